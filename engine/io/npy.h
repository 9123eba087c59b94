// NumPy .npy files (and gzip-compressed .npy.gz), read from untrusted bytes.
//
// Accepted: format versions 1.0, 2.0 and 3.0; descr '<f4' '<f8' '<f2' '<i4' '<i8' '|u1' '|b1'
// and the big-endian forms '>f4' '>f8' '>f2' '>i4' '>i8', which are byte-swapped to
// little-endian on load (one-byte types accept any of '|', '<', '>'). bf16 has no .npy type
// code: encoding a bf16 array is an error.
// Rejected with a stackgrad::Error that starts with `what` (the file name) and names the problem:
//   - a bad magic string or an unknown format version;
//   - a header shorter than it declares, or one that is not a Python dict literal with exactly
//     the keys 'descr', 'fortran_order' and 'shape' (duplicates and extra keys included);
//   - fortran_order True, unless at most one dimension is larger than 1 (then the bytes are the
//     same in either order);
//   - any other dtype, named in the message ('<c8' complex64, '|O' objects, '<U5' strings,
//     structured and subarray dtypes, '=' native or missing byte order);
//   - a negative dimension, or a shape whose element or byte count overflows int64;
//   - data shorter than the shape needs, and trailing bytes after the data: a file whose size
//     does not match its header is treated as corrupt rather than silently cut.
// Bool elements are normalized to 0/1. Nothing is allocated beyond what the input size implies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/gzip.h"
#include "engine/io/raw_array.h"

namespace stackgrad::io {

RawArray parse_npy(const uint8_t* bytes, size_t size, const std::string& what);

// Format version 1.0 (2.0 only when the header exceeds 65535 bytes), little-endian descr,
// C order, header padded with spaces to a multiple of 64 bytes as NumPy does.
std::vector<uint8_t> encode_npy(const RawArray& array);

// Reads a .npy file; gunzips first when the path ends in ".gz" or the bytes start with the
// gzip magic. The decompressed size is capped at `max_decompressed` bytes.
RawArray read_npy(const std::string& path, size_t max_decompressed = kDefaultGunzipLimit);

// Writes atomically (temporary file in the same folder, then rename); gzip-compresses the
// whole file when `gzip` is true.
void write_npy(const std::string& path, const RawArray& array, bool gzip = false);

}  // namespace stackgrad::io
