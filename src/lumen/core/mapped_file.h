// A read-only memory map of a whole file. Weights stay in the page cache and are never
// copied unless a kernel needs another layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace lumen {

class MappedFile {
 public:
  // Throws Error (kNotFound / kIo) if the file cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string. Throws Error if it cannot be read or is larger
// than max_bytes.
std::string read_text_file(const std::filesystem::path& path, size_t max_bytes = 256u << 20);

}  // namespace lumen
