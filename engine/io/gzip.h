// gzip (RFC 1952) compression and bounded decompression through zlib.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stackgrad::io {

// Default cap on decompressed output: 4 GiB.
inline constexpr size_t kDefaultGunzipLimit = size_t{4} << 30;

// True when the bytes start with the gzip magic 1f 8b.
bool is_gzip(const uint8_t* bytes, size_t size);

// Decompresses a whole gzip stream. Concatenated members (as `cat a.gz b.gz` makes) decode to
// the concatenation of their contents. Throws stackgrad::Error starting with `what` on corrupt
// or truncated input, on bytes after the last member that are not another member, and as soon
// as the output would exceed `max_output` bytes (a decompression bomb never allocates more
// than the limit).
std::vector<uint8_t> gunzip(const uint8_t* bytes, size_t size, size_t max_output,
                            const std::string& what = "gunzip");

// One gzip member at zlib's default level.
std::vector<uint8_t> gzip_compress(const uint8_t* bytes, size_t size);

}  // namespace stackgrad::io
