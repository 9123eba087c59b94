#include "engine/io/raw_array.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include "engine/core/error.h"

namespace stackgrad::io {

int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what) {
  int64_t numel = 1;
  for (int64_t dim : shape) {
    SG_CHECK(dim >= 0, what, ": negative dimension ", dim, " in shape ", shape_str(shape));
  }
  // A zero anywhere makes the product 0, even when the other dims would overflow together.
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
  }
  for (int64_t dim : shape) {
    SG_CHECK(numel <= std::numeric_limits<int64_t>::max() / dim, what, ": shape ", shape_str(shape),
             " has more elements than fit in int64");
    numel *= dim;
  }
  return numel;
}

uint64_t checked_nbytes(DType dtype, const std::vector<int64_t>& shape, std::string_view what) {
  const uint64_t numel = static_cast<uint64_t>(checked_numel(shape, what));
  const uint64_t item = dtype_size(dtype);
  SG_CHECK(numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / item, what,
           ": shape ", shape_str(shape), " of ", dtype_name(dtype), " needs more than 2^63 bytes");
  return numel * item;
}

void check_raw_array(const RawArray& array, std::string_view what) {
  const uint64_t expected = checked_nbytes(array.dtype, array.shape, what);
  SG_CHECK(array.data.size() == expected, what, ": shape ", shape_str(array.shape), " of ",
           dtype_name(array.dtype), " needs ", expected, " bytes but the array holds ",
           array.data.size());
}

void normalize_bool_bytes(std::vector<uint8_t>& data) {
  for (uint8_t& byte : data) byte = byte != 0 ? 1 : 0;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string printable_quoted(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  static const char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += "'";
  if (text.size() > kMaxShown) out += str_cat("... (", text.size(), " bytes)");
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, std::string_view op) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SG_CHECK(fd >= 0, op, ": cannot open '", path, "': ", std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  SG_CHECK(::fstat(fd, &st) == 0, op, ": cannot stat '", path, "': ", std::strerror(errno));
  SG_CHECK(S_ISREG(st.st_mode), op, ": '", path, "' is not a regular file");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    SG_CHECK(got >= 0, op, ": cannot read '", path, "': ", std::strerror(errno));
    SG_CHECK(got > 0, op, ": '", path, "' shrank while being read");
    done += static_cast<size_t>(got);
  }
  return bytes;
}

void write_file_atomic(const std::string& path, const uint8_t* bytes, size_t size,
                       std::string_view op) {
  // A name unique within this process and, through the pid, across processes; O_EXCL makes
  // sure an existing file is never reused.
  static std::atomic<uint64_t> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    temp = str_cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  SG_CHECK(fd >= 0, op, ": cannot create a temporary file next to '", path,
           "': ", std::strerror(errno));

  auto give_up = [&](const char* step) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail(op, ": cannot ", step, " '", path, "': ", std::strerror(saved));
  };
  size_t done = 0;
  while (done < size) {
    const ssize_t put = ::write(fd, bytes + done, size - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) give_up("write");
    done += static_cast<size_t>(put);
  }
  if (::fsync(fd) != 0) give_up("flush");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail(op, ": cannot close '", path, "': ", std::strerror(saved));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail(op, ": cannot rename the temporary file onto '", path, "': ", std::strerror(saved));
  }
}

}  // namespace stackgrad::io
