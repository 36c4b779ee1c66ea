// Imp (MILVLG): SigLIP vision tower -> mm projector -> Phi decoder, LLaVA-style. This class
// holds the loaded config and weights (views into the mapped checkpoint);
// models/imp_device_model runs them on a Backend and the runtime schedules that.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/family.h"
#include "lumen/models/mm_projector.h"
#include "lumen/models/registry.h"
#include "lumen/models/weight_quantization.h"

namespace lumen {

class ImpModel {
 public:
  // Reads config.json (+ generation_config.json) and maps the weights; every tensor the
  // config implies is checked for presence and shape here. `quant` picks the in-memory weight
  // formats (models/weight_quantization.h); by default weights stay as stored. Throws Error.
  static std::unique_ptr<ImpModel> load(const std::filesystem::path& dir, const QuantOptions& quant = {});
  // The same from a config and an already-open store (in-memory random weights for `lumen
  // bench`); formats are applied to the store first.
  static std::unique_ptr<ImpModel> from_store(const ImpConfig& config, std::unique_ptr<TensorStore> store,
                                              const QuantOptions& quant = {});

  const ImpConfig& config() const { return config_; }
  WeightLayout layout() const { return layout_; }
  const ModelFamily& family() const { return *family_; }
  const HostDecoder& decoder() const { return decoder_; }
  const HostVisionTower& vision() const { return vision_; }
  const MmProjector& projector() const { return projector_; }
  const TensorStore& store() const { return *store_; }

  // Image tokens each image expands to.
  int64_t tokens_per_image() const { return config_.tokens_per_image(); }

 private:
  ImpConfig config_;
  WeightLayout layout_ = WeightLayout::kHf;
  const ModelFamily* family_ = nullptr;
  std::unique_ptr<TensorStore> store_;
  HostVisionTower vision_;
  MmProjector projector_;
  HostDecoder decoder_;
};

}  // namespace lumen
