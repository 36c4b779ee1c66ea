// lumen._lumen.Index: an ItemIndex (retrieval/item_index.h) with the model that embeds its
// queries passed per call (lumen.Index, python/lumen/_index.py, keeps it). Items and results
// cross as JSON text: catalog lines in, {"results": [...]} out, exactly what the CLI reads
// and prints.
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "common.h"
#include "lumen/core/error.h"
#include "lumen/formats/json_util.h"
#include "lumen/retrieval/item_index.h"
#include "lumen/retrieval/recommend.h"
#include "model.h"

namespace lumen::python {

namespace {

// Catalog items from JSON lines (one object each); relative image paths join base_dir.
std::vector<CatalogItem> parse_items(const std::vector<std::string>& lines, const std::string& base_dir) {
  std::vector<CatalogItem> items;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string label = "item " + std::to_string(i + 1);
    CatalogItem item = parse_catalog_item(json_util::parse(lines[i], label), base_dir, label);
    if (!seen.insert(item.id).second) fail(label, ": duplicate id \"", item.id, "\"");
    items.push_back(std::move(item));
  }
  return items;
}

class PyIndex {
 public:
  explicit PyIndex(ItemIndex index) : index_(std::move(index)) {}

  static std::shared_ptr<PyIndex> build(const py::object& catalog, const std::string& base_dir, PyModel& model,
                                        const std::string& method, const std::string& mode, int64_t exact_threshold,
                                        double image_weight, double text_weight, int64_t batch, int64_t m,
                                        int64_t ef_construction, int64_t ef_search, py::object progress) {
    IndexConfig config;
    if (mode != "auto") config.mode = parse_index_mode(mode);
    if (exact_threshold < 0) fail("exact_threshold must be >= 0");
    if (image_weight < 0 || text_weight < 0 || image_weight + text_weight <= 0) {
      fail("image_weight and text_weight must be >= 0 and not both 0");
    }
    if (batch < 1) fail("batch must be >= 1, not ", batch);
    if (m < 2 || ef_construction < 1 || ef_search < 1) fail("hnsw_m must be >= 2, ef_construction and ef_search >= 1");
    config.exact_threshold = exact_threshold;
    config.hnsw = {m, ef_construction, ef_search, 100};
    config.fusion = {static_cast<float>(image_weight), static_cast<float>(text_weight)};
    const bool from_file = py::isinstance<py::str>(catalog);
    const std::string path = from_file ? catalog.cast<std::string>() : "";
    const std::vector<std::string> lines = from_file ? std::vector<std::string>{} : catalog.cast<std::vector<std::string>>();
    PythonCallbacks callbacks;
    std::exception_ptr error;
    std::optional<ItemIndex> built;
    {
      py::gil_scoped_release release;
      std::shared_lock<std::shared_mutex> pool(pool_mutex());
      std::lock_guard<std::mutex> lock(model.mutex());
      try {
        const std::vector<CatalogItem> items = from_file ? read_catalog(path) : parse_items(lines, base_dir);
        const Embedder& embedder = model.embedder(method);
        ItemIndex index(embedder.describe(), embedder.dim(), config, items.size());
        const size_t total = items.size();
        index.upsert(items, embed_catalog_items(embedder, items, config.fusion, batch, [&](size_t done) {
                       callbacks.call(progress, [&] { return py::make_tuple(done, total); });
                     }));
        built.emplace(std::move(index));
      } catch (...) {
        error = std::current_exception();
      }
    }
    callbacks.rethrow_pending();  // a Python callback's exception wins
    if (error) std::rethrow_exception(error);
    return std::make_shared<PyIndex>(std::move(*built));
  }

  static std::shared_ptr<PyIndex> load(const std::string& dir) {
    py::gil_scoped_release release;
    return std::make_shared<PyIndex>(ItemIndex::load(dir));
  }

  void save(const std::string& dir) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    index_.save(dir);
  }

  std::string search(PyModel& model, const std::optional<std::string>& text, const py::object& image, int64_t k,
                     const std::vector<std::string>& exclude) {
    if (text.has_value() == !image.is_none()) fail("give exactly one of text and image");
    if (k < 1) fail("k must be >= 1, not ", k);
    std::optional<ImageInput> input;
    if (!image.is_none()) input = image_input(image, 0, 1);
    py::gil_scoped_release release;
    const std::vector<float> query = embed_query(model, text, input);
    std::lock_guard<std::mutex> lock(mutex_);
    return results_json(index_.search(query.data(), k, exclude)).dump();
  }

  std::string recommend(PyModel* model, const std::vector<std::string>& liked, const std::vector<std::string>& disliked,
                        const std::optional<std::string>& text, int64_t k, double diversity, double disliked_weight,
                        double text_weight) {
    RecommendRequest request;
    request.liked = liked;
    request.disliked = disliked;
    request.k = k;
    request.diversity = diversity;
    request.disliked_weight = static_cast<float>(disliked_weight);
    request.text_weight = static_cast<float>(text_weight);
    if (request.liked.empty() && !text) fail("give liked ids and/or a text");
    py::gil_scoped_release release;
    {
      // Unknown ids are refused before the model runs, as `lumen recommend` does.
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto* ids : {&request.liked, &request.disliked}) {
        for (const auto& id : *ids) {
          if (!index_.contains(id)) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in the index");
        }
      }
    }
    if (text) {
      if (model == nullptr) fail_kind(ErrorKind::kInternal, "a text preference needs a model");
      request.preference = embed_query(*model, text, std::nullopt);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    return results_json(::lumen::recommend(index_, request)).dump();
  }

  // Adds (or replaces) items; returns how many replaced an existing id.
  size_t add(const py::object& catalog, const std::string& base_dir, PyModel& model, int64_t batch, py::object progress) {
    if (batch < 1) fail("batch must be >= 1, not ", batch);
    const bool from_file = py::isinstance<py::str>(catalog);
    const std::string path = from_file ? catalog.cast<std::string>() : "";
    const std::vector<std::string> lines = from_file ? std::vector<std::string>{} : catalog.cast<std::vector<std::string>>();
    PythonCallbacks callbacks;
    std::exception_ptr error;
    size_t replaced = 0;
    {
      py::gil_scoped_release release;
      std::shared_lock<std::shared_mutex> pool(pool_mutex());
      std::lock_guard<std::mutex> model_lock(model.mutex());
      try {
        const std::vector<CatalogItem> items = from_file ? read_catalog(path) : parse_items(lines, base_dir);
        const Embedder& embedder = matching_embedder(model);
        const size_t total = items.size();
        // mutex_ is not held while embedding: the progress callback takes the GIL, and a
        // thread holding the GIL may be waiting for mutex_.
        const std::vector<float> vectors = embed_catalog_items(embedder, items, index_.fusion(), batch, [&](size_t done) {
          callbacks.call(progress, [&] { return py::make_tuple(done, total); });
        });
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& item : items) replaced += index_.contains(item.id);
        index_.upsert(items, vectors);
      } catch (...) {
        error = std::current_exception();
      }
    }
    callbacks.rethrow_pending();  // a Python callback's exception wins
    if (error) std::rethrow_exception(error);
    return replaced;
  }

  void remove(const std::vector<std::string>& ids) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    index_.remove(ids);
  }

  size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return index_.size();
  }
  bool contains(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return index_.contains(id);
  }
  std::string fields_json(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return index_.fields_of(id).dump();
  }
  std::string embedder_json() {
    std::lock_guard<std::mutex> lock(mutex_);
    return index_.embedder_spec().dump();
  }
  int64_t dim() const { return index_.dim(); }
  std::string mode() const { return index_mode_name(index_.mode()); }
  py::tuple fusion() const { return py::make_tuple(index_.fusion().image, index_.fusion().text); }
  // Raises unless `model` embeds in this index's space.
  void check_model(PyModel& model) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> model_lock(model.mutex());
    matching_embedder(model);
  }

 private:
  // The model's embedder for the method the index was built with, checked against it. Call
  // with the model's mutex held (the index's spec, dim and fusion never change: no mutex_).
  const Embedder& matching_embedder(PyModel& model) {
    const Embedder& embedder = model.embedder(index_.embedder_spec().value("method", "auto"));
    check_embedder_matches(index_, embedder);
    return embedder;
  }

  // A query vector [dim]. Call without the GIL.
  std::vector<float> embed_query(PyModel& model, const std::optional<std::string>& text,
                                 const std::optional<ImageInput>& image) {
    std::shared_lock<std::shared_mutex> pool(pool_mutex());
    std::lock_guard<std::mutex> model_lock(model.mutex());
    const Embedder& embedder = matching_embedder(model);
    if (text) return embedder.embed_texts({*text});
    return embedder.embed_images({decode_input(*image, model.limits(), model.alpha())});
  }

  ItemIndex index_;
  std::mutex mutex_;
};

}  // namespace

void bind_index(py::module_& m) {
  py::class_<PyIndex, std::shared_ptr<PyIndex>>(m, "Index", "A catalog index (internal; use lumen.Index).")
      .def_static("build", &PyIndex::build, py::arg("catalog"), py::arg("base_dir"), py::arg("model"),
                  py::arg("method"), py::arg("mode"), py::arg("exact_threshold"), py::arg("image_weight"),
                  py::arg("text_weight"), py::arg("batch"), py::arg("hnsw_m"), py::arg("ef_construction"),
                  py::arg("ef_search"), py::arg("progress"))
      .def_static("load", &PyIndex::load, py::arg("dir"))
      .def("save", &PyIndex::save, py::arg("dir"))
      .def("search", &PyIndex::search, py::arg("model"), py::arg("text"), py::arg("image"), py::arg("k"),
           py::arg("exclude"))
      .def("recommend", &PyIndex::recommend, py::arg("model"), py::arg("liked"), py::arg("disliked"), py::arg("text"),
           py::arg("k"), py::arg("diversity"), py::arg("disliked_weight"), py::arg("text_weight"))
      .def("add", &PyIndex::add, py::arg("catalog"), py::arg("base_dir"), py::arg("model"), py::arg("batch"),
           py::arg("progress"))
      .def("remove", &PyIndex::remove, py::arg("ids"))
      .def("check_model", &PyIndex::check_model, py::arg("model"))
      .def("__len__", &PyIndex::size)
      .def("__contains__", &PyIndex::contains)
      .def("fields_json", &PyIndex::fields_json)
      .def_property_readonly("embedder_json", &PyIndex::embedder_json)
      .def_property_readonly("dim", &PyIndex::dim)
      .def_property_readonly("mode", &PyIndex::mode)
      .def_property_readonly("fusion", &PyIndex::fusion);
}

}  // namespace lumen::python
