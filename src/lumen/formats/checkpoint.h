// A Hugging Face checkpoint directory's tensors: model.safetensors, or the shards named by
// model.safetensors.index.json, all memory-mapped. Lookups by name check dtype and shape so a
// bad checkpoint fails at load, never mid-generation.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lumen/formats/safetensors.h"

namespace lumen {

class TensorStore {
 public:
  // Throws Error if the directory has no safetensors checkpoint or a shard is invalid.
  static std::unique_ptr<TensorStore> open_dir(const std::filesystem::path& dir,
                                               const SafetensorsLimits& limits = {});

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorView* find(const std::string& name) const;
  // The tensor, checked against `shape`; throws Error naming it if absent or mis-shaped.
  const TensorView& require(const std::string& name, const std::vector<int64_t>& shape) const;
  const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }
  // Metadata of the first shard (lumen quantize records its format there).
  const std::map<std::string, std::string>& metadata() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*> tensors_;
};

}  // namespace lumen
