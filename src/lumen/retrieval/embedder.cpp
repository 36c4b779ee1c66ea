#include "lumen/retrieval/embedder.h"

#include <algorithm>

#include "lumen/core/error.h"
#include "lumen/models/siglip_dual.h"
#include "lumen/retrieval/imp_embedder.h"

namespace lumen {

namespace {

class SiglipEmbedder : public Embedder {
 public:
  SiglipEmbedder(std::unique_ptr<SiglipDualEncoder> model, std::filesystem::path dir)
      : model_(std::move(model)), dir_(std::move(dir)) {}
  int64_t dim() const override { return model_->embedding_dim(); }
  std::string method() const override { return "siglip"; }
  nlohmann::json describe() const override {
    return with_alpha({{"method", method()}, {"model", dir_.string()}, {"dim", dim()}});
  }
  std::vector<float> embed_images(const std::vector<Image>& images) const override {
    return model_->embed_images(images);
  }
  std::vector<float> embed_texts(const std::vector<std::string>& texts) const override {
    return model_->embed_texts(texts);
  }

 private:
  std::unique_ptr<SiglipDualEncoder> model_;
  std::filesystem::path dir_;
};

}  // namespace

const std::vector<std::string>& embedder_methods() {
  static const std::vector<std::string> methods = {"auto", "siglip", "caption", "prompt"};
  return methods;
}

std::unique_ptr<Embedder> load_embedder(const std::filesystem::path& given_dir, const EmbedderOptions& options) {
  // Indexes record the model directory; an absolute one still works from another directory.
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(given_dir, ec);
  if (ec) dir = given_dir;
  const auto& methods = embedder_methods();
  if (std::find(methods.begin(), methods.end(), options.method) == methods.end()) {
    fail("unknown embedding method '", options.method, "' (expected auto, siglip, caption or prompt)");
  }
  const bool dual = is_siglip_dual_dir(dir);
  std::string method = options.method;
  if (method == "auto") method = dual ? "siglip" : "caption";
  std::unique_ptr<Embedder> embedder;
  if (method == "siglip") {
    if (!dual) fail(dir.string(), ": the siglip method needs a SigLIP dual encoder (config.json model_type \"siglip\")");
    embedder = std::make_unique<SiglipEmbedder>(SiglipDualEncoder::load(dir), dir);
  } else {
    if (dual) fail(dir.string(), ": a SigLIP dual encoder has no language model; use the siglip method");
    EngineOptions engine_options;
    engine_options.image_limits = options.image_limits;
    engine_options.alpha = options.alpha;
    std::shared_ptr<const Engine> engine = Engine::load(dir, engine_options);
    if (method == "caption") {
      embedder = std::make_unique<ImpCaptionEmbedder>(engine, options);
    } else {
      embedder = std::make_unique<ImpPromptEmbedder>(engine);
    }
  }
  embedder->set_image_decoding(options.image_limits, options.alpha);
  return embedder;
}

}  // namespace lumen
