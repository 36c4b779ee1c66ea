#include "lumen/core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lumen/core/error.h"

namespace lumen {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ErrorKind kind = errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo;
    fail_kind(kind, "cannot open ", path.string(), ": ", std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_kind(ErrorKind::kIo, "cannot map ", path.string(), ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail_kind(ErrorKind::kIo, "cannot map ", path.string(), ": ", std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(mapped);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

std::string read_text_file(const std::filesystem::path& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail_kind(ErrorKind::kNotFound, path.string(), ": no such file");
  if (std::filesystem::is_directory(path, ec)) fail(path.string(), ": is a directory, expected a file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) fail_kind(ErrorKind::kIo, "cannot read ", path.string(), ": ", ec.message());
  if (size > max_bytes) {
    fail_kind(ErrorKind::kLimitExceeded, path.string(), " is ", size, " bytes, more than the limit of ",
              max_bytes);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_kind(ErrorKind::kIo, "cannot open ", path.string());
  std::string text(static_cast<size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<size_t>(in.gcount()) != size) fail_kind(ErrorKind::kIo, "short read from ", path.string());
  return text;
}

}  // namespace lumen
