#include "lumen/models/imp_model.h"

namespace lumen {

std::unique_ptr<ImpModel> ImpModel::load(const std::filesystem::path& dir, const QuantOptions& quant) {
  ImpConfig config = load_imp_config(dir);
  return from_store(config, TensorStore::open_dir(dir), quant);
}

std::unique_ptr<ImpModel> ImpModel::from_store(const ImpConfig& config, std::unique_ptr<TensorStore> store_ptr,
                                               const QuantOptions& quant) {
  auto model = std::unique_ptr<ImpModel>(new ImpModel());
  model->config_ = config;
  model->store_ = std::move(store_ptr);
  apply_weight_formats(*model->store_, quant);
  const TensorStore& store = *model->store_;
  const ImpConfig& c = model->config_;
  model->family_ = &find_model_family(c.model_type, c.architectures);
  if (model->family_->nested_config) {
    model->layout_ = store.contains("model.language_model.embed_tokens.weight") ? WeightLayout::kLlavaHfNested
                                                                                : WeightLayout::kLlavaHf;
  } else {
    model->layout_ = store.contains("transformer.embd.wte.weight") ? WeightLayout::kPhiMsft : WeightLayout::kHf;
  }
  model->vision_ = model->family_->vision.load(store, c, model->layout_);
  model->projector_ = MmProjector::load(store, model->layout_, c.projector_depth, c.vision.hidden_size,
                                        c.text.hidden_size, c.projector_bias);
  model->decoder_ = model->family_->decoder.load(store, c, model->layout_);
  return model;
}

}  // namespace lumen
