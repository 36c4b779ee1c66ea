// A Hugging Face checkpoint directory's tensors: model.safetensors, or the shards named by
// model.safetensors.index.json, all memory-mapped. Lookups by name check dtype and shape so a
// bad checkpoint fails at load, never mid-generation.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lumen/core/large_buffer.h"
#include "lumen/formats/safetensors.h"

namespace lumen {

// Heap memory owned by a TensorStore (converted or generated weights).
using OwnedBytes = LargeBuffer;

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
  // Metadata of the first shard (lumen quantize records its format there), plus any
  // set_metadata() entries.
  const std::map<std::string, std::string>& metadata() const;
  const std::filesystem::path& dir() const { return dir_; }

  // A store whose tensors all live in memory (benchmarks with random weights, tests); `label`
  // stands in for the directory in error messages.
  static std::unique_ptr<TensorStore> in_memory(const std::string& label);
  // Adds a tensor (or replaces one of that name, e.g. a converted copy of a mapped tensor)
  // whose bytes the store now owns. Throws Error if nbytes does not match dtype x shape.
  void put(const std::string& name, DType dtype, const std::vector<int64_t>& shape, OwnedBytes bytes);
  // Uninitialised memory for put() (see core/large_buffer.h).
  static OwnedBytes allocate(size_t nbytes) { return allocate_large_buffer(nbytes); }

  // Tensors whose matmuls may use reduced-precision activations (chosen with --quant).
  void set_reduced_precision(const std::string& name) { reduced_.insert(name); }
  bool reduced_precision(const std::string& name) const { return reduced_.count(name) != 0; }
  // Extra metadata (lumen quantize records the formats it wrote).
  void set_metadata(const std::string& key, const std::string& value) { extra_metadata_[key] = value; }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*> tensors_;
  std::map<std::string, std::unique_ptr<TensorView>> owned_views_;
  std::vector<OwnedBytes> owned_bytes_;
  std::set<std::string> reduced_;
  std::map<std::string, std::string> extra_metadata_;
};

}  // namespace lumen
