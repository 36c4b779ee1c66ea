#include "lumen/formats/checkpoint.h"

#include <new>
#include <nlohmann/json.hpp>
#include <set>

#include "lumen/core/error.h"

namespace lumen {

namespace fs = std::filesystem;

std::unique_ptr<TensorStore> TensorStore::open_dir(const fs::path& dir, const SafetensorsLimits& limits) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail_kind(ErrorKind::kNotFound, dir.string(), ": no such directory");
  if (!fs::is_directory(dir, ec)) fail(dir.string(), ": not a directory (expected a model directory)");
  auto store = std::unique_ptr<TensorStore>(new TensorStore());
  store->dir_ = dir;

  std::vector<fs::path> shard_paths;
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(dir / "model.safetensors", ec)) {
    shard_paths.push_back(dir / "model.safetensors");
  } else if (fs::exists(index_path, ec)) {
    auto index = nlohmann::json::parse(read_text_file(index_path, 64u << 20), nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      fail(index_path.string(), ": expected a JSON object with a \"weight_map\" object");
    }
    std::set<std::string> files;
    for (auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail(index_path.string(), ": weight_map entry for '", name, "' is not a file name");
      std::string shard = file.get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
        fail(index_path.string(), ": shard name '", shard, "' must be a plain file name in the model directory");
      }
      files.insert(shard);
    }
    if (files.empty()) fail(index_path.string(), ": weight_map is empty");
    for (const auto& f : files) shard_paths.push_back(dir / f);
  } else {
    fail_kind(ErrorKind::kNotFound, "no model in ", dir.string(),
              ": expected model.safetensors or model.safetensors.index.json");
  }

  for (const auto& path : shard_paths) {
    store->shards_.push_back(SafetensorsFile::open(path, limits));
    for (const auto& [name, view] : store->shards_.back()->tensors()) {
      if (!store->tensors_.emplace(name, &view).second) {
        fail(path.string(), ": tensor '", name, "' appears in more than one shard");
      }
    }
  }
  return store;
}

const TensorView* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::require(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorView* view = find(name);
  if (view == nullptr) fail(dir_.string(), ": checkpoint is missing tensor '", name, "'");
  if (view->shape != shape) {
    TensorView expected;
    expected.shape = shape;
    fail(dir_.string(), ": tensor '", name, "' has shape ", view->shape_string(), ", expected ",
         expected.shape_string(), " from config.json");
  }
  return *view;
}

const std::map<std::string, std::string>& TensorStore::metadata() const {
  static const std::map<std::string, std::string> kEmpty;
  if (!extra_metadata_.empty()) return extra_metadata_;
  return shards_.empty() ? kEmpty : shards_.front()->metadata();
}

std::unique_ptr<TensorStore> TensorStore::in_memory(const std::string& label) {
  auto store = std::unique_ptr<TensorStore>(new TensorStore());
  store->dir_ = label;
  return store;
}

void TensorStore::put(const std::string& name, DType dtype, const std::vector<int64_t>& shape, OwnedBytes bytes) {
  auto view = std::make_unique<TensorView>();
  view->name = name;
  view->dtype = dtype;
  view->shape = shape;
  const int64_t count = view->numel();
  const size_t block = dtype_block(dtype);
  if (count % static_cast<int64_t>(block) != 0) {
    fail(dir_.string(), ": tensor '", name, "' of ", count, " values is not whole ", dtype_name(dtype), " blocks");
  }
  view->nbytes = static_cast<size_t>(count) / block * dtype_size(dtype);
  view->data = bytes.get();
  tensors_[name] = view.get();
  owned_views_[name] = std::move(view);  // replaces (and frees) an earlier owned view of that name
  owned_bytes_.push_back(std::move(bytes));
}

}  // namespace lumen
