// lumen::api::Model's embedding calls (include/lumen/lumen.hpp) over retrieval/embedder.h: the
// "caption" and "prompt" methods on the model's own engine, made once per model.
#include <map>
#include <memory>

#include "lumen/api/retrieval/embedders.h"
#include "lumen/retrieval/imp_embedder.h"

namespace lumen::api {

namespace {

using EmbedderMap = std::map<std::string, std::unique_ptr<Embedder>>;

std::vector<std::vector<float>> rows(const std::vector<float>& flat, size_t count, int64_t dim) {
  std::vector<std::vector<float>> out(count);
  for (size_t i = 0; i < count; ++i) {
    const auto begin = flat.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(dim));
    out[i].assign(begin, begin + dim);
  }
  return out;
}

}  // namespace

const Embedder& model_embedder(Model::Impl& impl, const std::string& requested) {
  const std::string method = requested.empty() || requested == "auto" ? "caption" : requested;
  if (!impl.embedders) impl.embedders = std::make_shared<EmbedderMap>();
  EmbedderMap& made = *static_cast<EmbedderMap*>(impl.embedders.get());
  if (auto it = made.find(method); it != made.end()) return *it->second;
  const EngineOptions& engine_options = impl.engine->options();
  std::unique_ptr<Embedder> embedder;
  if (method == "caption") {
    EmbedderOptions options;
    options.method = method;
    options.image_limits = engine_options.image_limits;
    options.alpha = engine_options.alpha;
    embedder = std::make_unique<ImpCaptionEmbedder>(impl.engine, options);
  } else if (method == "prompt") {
    embedder = std::make_unique<ImpPromptEmbedder>(impl.engine);
  } else if (method == "siglip") {
    fail(impl.dir, ": the siglip method needs a SigLIP dual encoder, which lumen::api::Model does not load");
  } else {
    fail("unknown embedding method '", method, "' (expected auto, caption or prompt)");
  }
  return *made.emplace(method, std::move(embedder)).first->second;
}

std::vector<std::vector<float>> Model::embed_images(const std::vector<std::string>& images,
                                                    const std::string& method) const {
  Impl& impl = impl_of(impl_);
  return translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.mutex);
    const Embedder& embedder = model_embedder(impl, method);
    std::vector<Image> decoded;
    decoded.reserve(images.size());
    for (const auto& path : images) decoded.push_back(embedder.load_image(path));
    return rows(embedder.embed_images(decoded), images.size(), embedder.dim());
  });
}

std::vector<std::vector<float>> Model::embed_texts(const std::vector<std::string>& texts,
                                                   const std::string& method) const {
  Impl& impl = impl_of(impl_);
  return translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.mutex);
    const Embedder& embedder = model_embedder(impl, method);
    return rows(embedder.embed_texts(texts), texts.size(), embedder.dim());
  });
}

int64_t Model::embedding_dim(const std::string& method) const {
  Impl& impl = impl_of(impl_);
  return translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.mutex);
    return model_embedder(impl, method).dim();
  });
}

}  // namespace lumen::api
