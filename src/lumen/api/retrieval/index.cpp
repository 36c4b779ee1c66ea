// lumen::api::Index (include/lumen/lumen.hpp) over retrieval/item_index.h and recommend.h:
// what `lumen index`, `lumen search` and `lumen recommend` run, with the model passed per call.
#include <mutex>
#include <optional>

#include "lumen/api/retrieval/embedders.h"
#include "lumen/retrieval/catalog.h"
#include "lumen/retrieval/item_index.h"
#include "lumen/retrieval/recommend.h"

namespace lumen::api {

struct Index::Impl {
  explicit Impl(ItemIndex loaded) : index(std::move(loaded)) {}
  ItemIndex index;
  mutable std::mutex mutex;  // one call at a time
};

namespace {

Index::Impl& index_impl(const std::unique_ptr<Index::Impl>& impl) {
  if (!impl) throw Error("lumen: this Index was moved from", ErrorKind::kInvalidInput);
  return *impl;
}

std::vector<SearchResult> public_results(const std::vector<ScoredItem>& items) {
  std::vector<SearchResult> out;
  out.reserve(items.size());
  for (const ScoredItem& item : items) {
    out.push_back({item.id, item.score, item.fields != nullptr ? item.fields->dump() : "{}"});
  }
  return out;
}

void check_k(int k) {
  if (k < 1) fail("k must be >= 1, not ", k);
}

// The model's embedder for the method the index was built with, checked against the index's
// space. Call with the model's mutex held.
const Embedder& matching_embedder(Model::Impl& model, const ItemIndex& index) {
  const Embedder& embedder = model_embedder(model, index.embedder_spec().value("method", "auto"));
  check_embedder_matches(index, embedder);
  return embedder;
}

// A query vector [dim] from a text or an image file.
std::vector<float> embed_query(Model::Impl& model, const ItemIndex& index, const std::optional<std::string>& text,
                               const std::optional<std::string>& image) {
  std::lock_guard<std::mutex> lock(model.mutex);
  const Embedder& embedder = matching_embedder(model, index);
  if (text) return embedder.embed_texts({*text});
  return embedder.embed_images({embedder.load_image(*image)});
}

}  // namespace

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

Index Index::build(const Model& model, const std::string& catalog_path, const IndexOptions& options) {
  Model::Impl& model_impl = impl_of(model.impl_);
  return translate_errors([&] {
    IndexConfig config;
    if (options.mode != "auto") config.mode = parse_index_mode(options.mode);
    if (options.image_weight < 0 || options.text_weight < 0 || options.image_weight + options.text_weight <= 0) {
      fail("image_weight and text_weight must be >= 0 and not both 0");
    }
    if (options.batch < 1) fail("batch must be >= 1, not ", options.batch);
    config.fusion = {options.image_weight, options.text_weight};
    const std::vector<CatalogItem> items = read_catalog(catalog_path);
    std::lock_guard<std::mutex> lock(model_impl.mutex);
    const Embedder& embedder = model_embedder(model_impl, options.method);
    ItemIndex index(embedder.describe(), embedder.dim(), config, items.size());
    index.upsert(items, embed_catalog_items(embedder, items, config.fusion, options.batch));
    return Index(std::make_unique<Impl>(std::move(index)));
  });
}

Index Index::load(const std::string& dir) {
  return translate_errors([&] { return Index(std::make_unique<Impl>(ItemIndex::load(dir))); });
}

void Index::save(const std::string& dir) const {
  Impl& impl = index_impl(impl_);
  translate_errors([&] {
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.index.save(dir);
  });
}

std::size_t Index::size() const {
  Impl& impl = index_impl(impl_);
  std::lock_guard<std::mutex> lock(impl.mutex);
  return impl.index.size();
}

std::vector<SearchResult> Index::search_text(const Model& model, const std::string& text, int k) const {
  Impl& impl = index_impl(impl_);
  Model::Impl& model_impl = impl_of(model.impl_);
  return translate_errors([&] {
    check_k(k);
    std::lock_guard<std::mutex> lock(impl.mutex);
    const std::vector<float> query = embed_query(model_impl, impl.index, text, std::nullopt);
    return public_results(impl.index.search(query.data(), k));
  });
}

std::vector<SearchResult> Index::search_image(const Model& model, const std::string& image_path, int k) const {
  Impl& impl = index_impl(impl_);
  Model::Impl& model_impl = impl_of(model.impl_);
  return translate_errors([&] {
    check_k(k);
    std::lock_guard<std::mutex> lock(impl.mutex);
    const std::vector<float> query = embed_query(model_impl, impl.index, std::nullopt, image_path);
    return public_results(impl.index.search(query.data(), k));
  });
}

std::vector<SearchResult> Index::recommend(const RecommendOptions& options, const Model* model) const {
  Impl& impl = index_impl(impl_);
  return translate_errors([&] {
    RecommendRequest request;
    request.liked = options.liked;
    request.disliked = options.disliked;
    request.k = options.k;
    request.diversity = options.diversity;
    request.disliked_weight = options.disliked_weight;
    request.text_weight = options.text_weight;
    if (request.liked.empty() && options.text.empty()) fail("give liked ids and/or a text");
    std::lock_guard<std::mutex> lock(impl.mutex);
    // Unknown ids are refused before the model runs, as `lumen recommend` does.
    for (const auto* ids : {&request.liked, &request.disliked}) {
      for (const auto& id : *ids) {
        if (!impl.index.contains(id)) fail_kind(::lumen::ErrorKind::kNotFound, "no item with id \"", id, "\" in the index");
      }
    }
    if (!options.text.empty()) {
      if (model == nullptr) fail("a text preference needs a model: pass one to Index::recommend");
      request.preference = embed_query(impl_of(model->impl_), impl.index, options.text, std::nullopt);
    }
    return public_results(::lumen::recommend(impl.index, request));
  });
}

}  // namespace lumen::api
