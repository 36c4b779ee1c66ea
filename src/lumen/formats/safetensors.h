// The safetensors format: an 8-byte little-endian header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets}, then the raw data. The file is memory-mapped;
// every offset, size and shape in the (untrusted) header is checked before use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/dtype.h"
#include "lumen/core/mapped_file.h"

namespace lumen {

// A view of one stored tensor. `data` points into a mapped file that outlives the view.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
  std::string shape_string() const;  // "[51200, 64]"
};

struct SafetensorsLimits {
  size_t max_header_bytes = 64u << 20;  // a real checkpoint's header is well under 1 MB
};

class SafetensorsFile {
 public:
  // Maps and validates the file. Throws Error naming the file and the problem.
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path,
                                               const SafetensorsLimits& limits = {});

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView* find(const std::string& name) const;
  const std::filesystem::path& path() const { return file_.path(); }

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses a header (the JSON bytes between the length prefix and the data) against a data
// section of `data_size` bytes. Exposed for tests and fuzzing.
void parse_safetensors_header(std::string_view header, const uint8_t* data, size_t data_size,
                              const std::string& file_label, std::map<std::string, TensorView>* tensors,
                              std::map<std::string, std::string>* metadata);

// Writes tensors to a safetensors file (used by `lumen quantize` and by tests that build
// hostile or synthetic checkpoints). Entries are written in name order.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lumen
