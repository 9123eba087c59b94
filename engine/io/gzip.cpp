#include "engine/io/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::io {
namespace {

// zlib counts in uInt (32 bits); larger buffers are fed in pieces of at most this size.
constexpr size_t kMaxZlibChunk = std::numeric_limits<uInt>::max();
constexpr int kGzipOnlyWindowBits = 15 + 16;  // 16 selects the gzip wrapper, no raw zlib

struct InflateGuard {
  z_stream* zs;
  ~InflateGuard() { inflateEnd(zs); }
};
struct DeflateGuard {
  z_stream* zs;
  ~DeflateGuard() { deflateEnd(zs); }
};

}  // namespace

bool is_gzip(const uint8_t* bytes, size_t size) {
  return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const uint8_t* bytes, size_t size, size_t max_output,
                            const std::string& what) {
  SG_CHECK(size > 0, what, ": empty input is not gzip data");
  SG_CHECK(is_gzip(bytes, size), what, ": not gzip data (missing the 1f 8b magic)");

  z_stream zs{};
  SG_CHECK(inflateInit2(&zs, kGzipOnlyWindowBits) == Z_OK, what, ": zlib inflateInit2 failed");
  InflateGuard guard{&zs};

  // One byte past the limit is room enough to notice that the limit is exceeded.
  const size_t hard_cap =
      max_output == std::numeric_limits<size_t>::max() ? max_output : max_output + 1;
  std::vector<uint8_t> out;
  size_t produced = 0;
  size_t consumed = 0;
  for (;;) {
    if (produced == out.size()) {
      SG_CHECK(out.size() < hard_cap, what, ": decompressed data exceeds the limit of ", max_output,
               " bytes");
      // Grow geometrically, never past the cap, and never trusting the size the stream claims.
      const size_t grown = std::max<size_t>(out.size() * 2, size_t{64} << 10);
      out.resize(std::min(grown, hard_cap));
    }
    const size_t in_chunk = std::min(size - consumed, kMaxZlibChunk);
    const size_t out_chunk = std::min(out.size() - produced, kMaxZlibChunk);
    zs.next_in = const_cast<Bytef*>(bytes + consumed);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int ret = inflate(&zs, Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    SG_CHECK(produced <= max_output, what, ": decompressed data exceeds the limit of ", max_output,
             " bytes");

    if (ret == Z_STREAM_END) {
      if (consumed == size) break;
      SG_CHECK(is_gzip(bytes + consumed, size - consumed), what, ": ", size - consumed,
               " bytes of trailing garbage after the gzip data");
      SG_CHECK(inflateReset(&zs) == Z_OK, what, ": zlib inflateReset failed");
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR) {
      // No progress possible: either the output is full (grown on the next turn) or the input
      // ran out before the end of the stream.
      if (produced == out.size()) continue;
      SG_CHECK(consumed < size, what, ": truncated gzip data (the stream ends early)");
      continue;
    }
    if (ret == Z_MEM_ERROR) fail(what, ": zlib ran out of memory");
    fail(what, ": corrupt gzip data (", zs.msg ? zs.msg : "zlib error", ")");
  }
  out.resize(produced);
  return out;
}

std::vector<uint8_t> gzip_compress(const uint8_t* bytes, size_t size) {
  z_stream zs{};
  SG_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipOnlyWindowBits, 8,
                        Z_DEFAULT_STRATEGY) == Z_OK,
           "gzip_compress: zlib deflateInit2 failed");
  DeflateGuard guard{&zs};

  std::vector<uint8_t> out(std::max<size_t>(deflateBound(&zs, static_cast<uLong>(size)), 64));
  size_t consumed = 0;
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const size_t in_chunk = std::min(size - consumed, kMaxZlibChunk);
    const size_t out_chunk = std::min(out.size() - produced, kMaxZlibChunk);
    const bool last = consumed + in_chunk == size;
    zs.next_in = const_cast<Bytef*>(bytes + consumed);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int ret = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (ret == Z_STREAM_END) break;
    SG_CHECK(ret == Z_OK || ret == Z_BUF_ERROR, "gzip_compress: zlib deflate failed (", ret, ")");
  }
  out.resize(produced);
  return out;
}

}  // namespace stackgrad::io
