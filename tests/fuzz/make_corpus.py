#!/usr/bin/env python3
"""Writes the seed inputs under tests/fuzz/corpus/{npy,safetensors}/ (each well under 1 KB).

Hand-written bytes with the standard library only, so NumPy is not needed:
    python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def npy(descr, shape, data, version=(1, 0), fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", dims)
    length_size = 2 if version[0] == 1 else 4
    preamble = 8 + length_size
    total = (preamble + len(header) + 1 + 63) // 64 * 64
    header = header.ljust(total - preamble - 1) + "\n"
    length = struct.pack("<H" if length_size == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header.encode("latin1") + data


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, data bytes), laid out in order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    buffer = b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        buffer += data
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def write(folder, name, data):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    assert len(data) < 1024, name
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def main():
    f32 = struct.pack("<6f", -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
    write("npy", "f32_2x3.npy", npy("<f4", (2, 3), f32))
    write("npy", "f64_3.npy", npy("<f8", (3,), struct.pack("<3d", 0.5, 1.5, 2.5)))
    write("npy", "i32_scalar.npy", npy("<i4", (), struct.pack("<i", -7)))
    write("npy", "i64_2.npy", npy("<i8", (2,), struct.pack("<2q", 1 << 40, -3)))
    write("npy", "u8_4.npy", npy("|u1", (4,), bytes([0, 1, 127, 255])))
    write("npy", "bool_3.npy", npy("|b1", (3,), bytes([1, 0, 1])))
    write("npy", "empty_0x5.npy", npy("<f4", (0, 5), b""))
    write("npy", "bigendian_f8.npy", npy(">f8", (2,), struct.pack(">2d", 1.0, -2.0)))
    write("npy", "v2_i32.npy", npy("<i4", (2, 1), struct.pack("<2i", 5, 6), version=(2, 0)))
    write("npy", "v3_u8.npy", npy("|u1", (1, 1, 2), bytes([3, 4]), version=(3, 0)))
    write("npy", "fortran_trivial.npy", npy("<i4", (2, 1), struct.pack("<2i", 1, 2), fortran=True))
    write("npy", "f32_2x3.npy.gz", gzip.compress(npy("<f4", (2, 3), f32), mtime=0))

    write("safetensors", "empty.safetensors", safetensors([]))
    write("safetensors", "one_f32.safetensors",
          safetensors([("weight", "F32", [2, 3], f32)]))
    write("safetensors", "all_dtypes.safetensors", safetensors([
        ("f64", "F64", [2], struct.pack("<2d", 0.25, -0.5)),
        ("i64", "I64", [1], struct.pack("<q", -5)),
        ("f32", "F32", [], struct.pack("<f", 3.0)),
        ("i32", "I32", [1, 1], struct.pack("<i", 9)),
        ("u8", "U8", [3], bytes([7, 8, 9])),
        ("mask", "BOOL", [2], bytes([1, 0])),
        ("empty", "F32", [0, 4], b""),
    ], metadata={"format": "pt", "note": "caf\u00e9 \u2603"}))
    # Escapes the Python writer does not produce on its own.
    header = (b'{"__metadata__":{"k\\u00e9\\ud83d\\ude00":"v\\n\\"q\\""},'
              b'"a\\/b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}')
    write("safetensors", "escapes.safetensors",
          struct.pack("<Q", len(header)) + header + bytes([1, 2]))


if __name__ == "__main__":
    main()
