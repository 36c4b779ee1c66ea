#include "lumen/retrieval/item_index.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/json_util.h"
#include "lumen/kernels/cpu/vector_ops.h"

namespace lumen {

namespace {

constexpr const char* kFormat = "lumen-index";
constexpr int64_t kVersion = 1;
constexpr int64_t kMaxSlots = int64_t{1} << 28;

// Tombstones beyond this share of the slots are dropped (and the graph rebuilt) on upsert/remove.
constexpr double kCompactShare = 0.25;

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) fail_kind(ErrorKind::kIo, "cannot write ", path.string());
}

}  // namespace

std::vector<float> embed_catalog_items(const Embedder& embedder, const std::vector<CatalogItem>& items,
                                       const FusionWeights& fusion, int64_t batch,
                                       const std::function<void(size_t)>& progress) {
  const int64_t d = embedder.dim();
  if (batch < 1) batch = 1;
  std::vector<float> out(items.size() * static_cast<size_t>(d), 0.0f);
  for (size_t first = 0; first < items.size(); first += static_cast<size_t>(batch)) {
    const size_t last = std::min(items.size(), first + static_cast<size_t>(batch));
    std::vector<Image> images;
    std::vector<size_t> image_owner;
    std::vector<std::string> texts;
    std::vector<size_t> text_owner;
    for (size_t i = first; i < last; ++i) {
      const CatalogItem& item = items[i];
      if (item.image) {
        try {
          images.push_back(embedder.load_image(*item.image));
        } catch (const Error& e) {
          fail_kind(e.kind(), "item \"", item.id, "\"", item.line ? " (line " + std::to_string(item.line) + ")" : "",
                    ": ", e.what());
        }
        image_owner.push_back(i);
      }
      if (item.text) {
        texts.push_back(*item.text);
        text_owner.push_back(i);
      }
    }
    const std::vector<float> image_vectors = embedder.embed_images(images);
    const std::vector<float> text_vectors = embedder.embed_texts(texts);
    const float wi = images.empty() ? 0.0f : fusion.image, wt = fusion.text;
    for (size_t j = 0; j < image_owner.size(); ++j) {
      const size_t i = image_owner[j];
      const float w = items[i].text ? wi : 1.0f;
      for (int64_t c = 0; c < d; ++c) out[i * d + c] += w * image_vectors[j * d + c];
    }
    for (size_t j = 0; j < text_owner.size(); ++j) {
      const size_t i = text_owner[j];
      const float w = items[i].image ? wt : 1.0f;
      for (int64_t c = 0; c < d; ++c) out[i * d + c] += w * text_vectors[j * d + c];
    }
    for (size_t i = first; i < last; ++i) l2_normalize_rows(out.data() + i * d, 1, d);
    if (progress) progress(last);
  }
  return out;
}

ItemIndex::ItemIndex(nlohmann::json embedder_spec, int64_t dim, const IndexConfig& config, size_t expected_items)
    : embedder_spec_(std::move(embedder_spec)),
      fusion_(config.fusion),
      vectors_(dim,
               config.mode.value_or(expected_items <= static_cast<size_t>(config.exact_threshold) ? IndexMode::kExact
                                                                                                   : IndexMode::kHnsw),
               config.hnsw) {
  if (!(fusion_.image >= 0) || !(fusion_.text >= 0) || fusion_.image + fusion_.text <= 0) {
    fail("fusion weights must be >= 0 and not both 0");
  }
}

const float* ItemIndex::vector_of(const std::string& id) const {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in the index");
  return vectors_.vector(it->second);
}

const nlohmann::json& ItemIndex::fields_of(const std::string& id) const {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in the index");
  return fields_[static_cast<size_t>(it->second)];
}

std::vector<std::string> ItemIndex::ids() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (int64_t s = 0; s < vectors_.slots(); ++s) {
    if (vectors_.is_live(s)) out.push_back(ids_[static_cast<size_t>(s)]);
  }
  return out;
}

void ItemIndex::upsert(const std::vector<CatalogItem>& items, const std::vector<float>& vectors) {
  const int64_t d = dim();
  if (vectors.size() != items.size() * static_cast<size_t>(d)) {
    fail_kind(ErrorKind::kInternal, "upsert: ", vectors.size(), " floats for ", items.size(), " items of ", d);
  }
  if (static_cast<int64_t>(items.size()) + vectors_.slots() > kMaxSlots) {
    fail_kind(ErrorKind::kLimitExceeded, "the index would exceed ", kMaxSlots, " slots");
  }
  for (const auto& item : items) {
    if (auto it = slot_of_.find(item.id); it != slot_of_.end()) {
      vectors_.remove(it->second);
      ids_[static_cast<size_t>(it->second)].clear();
      fields_[static_cast<size_t>(it->second)] = nullptr;
      slot_of_.erase(it);
    }
  }
  const int64_t first = vectors_.add(vectors.data(), static_cast<int64_t>(items.size()));
  for (size_t i = 0; i < items.size(); ++i) {
    const int64_t slot = first + static_cast<int64_t>(i);
    ids_.push_back(items[i].id);
    fields_.push_back(items[i].fields);
    // A catalog with the same id twice keeps the last one.
    if (auto it = slot_of_.find(items[i].id); it != slot_of_.end()) {
      vectors_.remove(it->second);
      ids_[static_cast<size_t>(it->second)].clear();
      fields_[static_cast<size_t>(it->second)] = nullptr;
    }
    slot_of_[items[i].id] = slot;
  }
  if (static_cast<double>(vectors_.slots() - vectors_.live_count()) > kCompactShare * static_cast<double>(vectors_.slots())) {
    remove({});  // compacts
  }
}

void ItemIndex::remove(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!slot_of_.count(id)) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in the index");
  }
  for (const auto& id : ids) {
    auto it = slot_of_.find(id);
    if (it == slot_of_.end()) continue;  // listed twice
    vectors_.remove(it->second);
    ids_[static_cast<size_t>(it->second)].clear();
    fields_[static_cast<size_t>(it->second)] = nullptr;
    slot_of_.erase(it);
  }
  // Exact mode has no graph to protect: drop tombstones at once. HNSW rebuilds only when they pile up.
  const int64_t dead = vectors_.slots() - vectors_.live_count();
  if (dead > 0 && (mode() == IndexMode::kExact || static_cast<double>(dead) > kCompactShare * static_cast<double>(vectors_.slots()))) {
    const std::vector<int64_t> old_to_new = vectors_.compact();
    std::vector<std::string> ids(static_cast<size_t>(vectors_.slots()));
    std::vector<nlohmann::json> fields(static_cast<size_t>(vectors_.slots()));
    for (size_t s = 0; s < old_to_new.size(); ++s) {
      if (old_to_new[s] < 0) continue;
      ids[static_cast<size_t>(old_to_new[s])] = std::move(ids_[s]);
      fields[static_cast<size_t>(old_to_new[s])] = std::move(fields_[s]);
    }
    ids_ = std::move(ids);
    fields_ = std::move(fields);
    for (size_t s = 0; s < ids_.size(); ++s) slot_of_[ids_[s]] = static_cast<int64_t>(s);
  }
}

ScoredItem ItemIndex::scored(int64_t slot, float score) const {
  return {ids_[static_cast<size_t>(slot)], score, &fields_[static_cast<size_t>(slot)]};
}

std::vector<ScoredItem> ItemIndex::search(const float* query, int64_t k, const std::vector<std::string>& exclude) const {
  std::unordered_set<int64_t> skip;
  for (const auto& id : exclude) {
    if (auto it = slot_of_.find(id); it != slot_of_.end()) skip.insert(it->second);
  }
  std::vector<ScoredItem> out;
  for (const SearchHit& hit : vectors_.search(query, k, [&](int64_t slot) { return skip.count(slot) != 0; })) {
    out.push_back(scored(hit.slot, hit.score));
  }
  return out;
}

void ItemIndex::save(const std::filesystem::path& given_dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  // "idx/" must not put the sibling directories inside idx.
  fs::path dir = given_dir.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  if (dir.empty()) fail("an index needs a directory name");
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) fail(dir.string(), ": exists and is not an index directory");
  if (fs::is_directory(dir, ec) && !fs::exists(dir / "manifest.json", ec) && !fs::is_empty(dir, ec)) {
    fail(dir.string(), ": a non-empty directory that is not a Lumen index; refusing to replace it");
  }
  const fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) fail_kind(ErrorKind::kIo, "cannot create ", tmp.string(), ": ", ec.message());

  nlohmann::json manifest = {
      {"format", kFormat},
      {"version", kVersion},
      {"embedder", embedder_spec_},
      {"dim", dim()},
      {"mode", index_mode_name(mode())},
      {"hnsw", {{"m", vectors_.params().m}, {"ef_construction", vectors_.params().ef_construction}, {"ef_search", vectors_.params().ef_search}}},
      {"fusion", {{"image_weight", fusion_.image}, {"text_weight", fusion_.text}}},
      {"slots", vectors_.slots()},
      {"live", vectors_.live_count()}};
  write_text(tmp / "manifest.json", manifest.dump(2) + "\n");
  std::string lines;
  for (int64_t s = 0; s < vectors_.slots(); ++s) {
    const nlohmann::json& line = vectors_.is_live(s) ? fields_[static_cast<size_t>(s)] : nlohmann::json{{"removed", true}};
    lines += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    lines += '\n';
  }
  write_text(tmp / "items.jsonl", lines);
  vectors_.save(tmp);

  const fs::path old = dir.string() + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(dir, ec)) {
    fs::rename(dir, old, ec);
    if (ec) fail_kind(ErrorKind::kIo, "cannot replace ", dir.string(), ": ", ec.message());
  }
  fs::rename(tmp, dir, ec);
  if (ec) fail_kind(ErrorKind::kIo, "cannot write ", dir.string(), ": ", ec.message());
  fs::remove_all(old, ec);
}

ItemIndex ItemIndex::load(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path manifest_path = dir / "manifest.json";
  if (!fs::is_regular_file(manifest_path, ec)) {
    fail_kind(ErrorKind::kNotFound, dir.string(), ": not a Lumen index (no manifest.json)");
  }
  const std::string label = manifest_path.string();
  const nlohmann::json m = json_util::parse(read_text_file(manifest_path, 16u << 20), label);
  if (!m.is_object() || json_util::get_string(m, {"format"}, label).value_or("") != kFormat) {
    fail(label, ": not a Lumen index manifest");
  }
  const int64_t version = json_util::get_int(m, {"version"}, label, 0, 1 << 20).value_or(0);
  if (version != kVersion) fail(label, ": index format version ", version, " is not supported (expected ", kVersion, ")");
  const int64_t dim = json_util::get_int(m, {"dim"}, label, 1, 65536).value_or(0);
  const int64_t slots = json_util::get_int(m, {"slots"}, label, 0, kMaxSlots).value_or(-1);
  if (dim <= 0 || slots < 0) fail(label, ": missing \"dim\" or \"slots\"");
  const IndexMode mode = parse_index_mode(json_util::get_string(m, {"mode"}, label).value_or(""));
  IndexConfig config;
  config.mode = mode;
  if (auto h = m.find("hnsw"); h != m.end() && h->is_object()) {
    config.hnsw.m = json_util::get_int(*h, {"m"}, label, 2, 256).value_or(config.hnsw.m);
    config.hnsw.ef_construction = json_util::get_int(*h, {"ef_construction"}, label, 1, 100000).value_or(config.hnsw.ef_construction);
    config.hnsw.ef_search = json_util::get_int(*h, {"ef_search"}, label, 1, 100000).value_or(config.hnsw.ef_search);
  }
  if (auto f = m.find("fusion"); f != m.end() && f->is_object()) {
    config.fusion.image = static_cast<float>(json_util::get_number(*f, {"image_weight"}, label).value_or(1.0));
    config.fusion.text = static_cast<float>(json_util::get_number(*f, {"text_weight"}, label).value_or(1.0));
  }
  auto spec = m.find("embedder");
  if (spec == m.end() || !spec->is_object()) fail(label, ": missing \"embedder\"");
  ItemIndex index(*spec, dim, config, 0);

  // items.jsonl: exactly `slots` lines; read line by line so a huge file fails on its count.
  const fs::path items_path = dir / "items.jsonl";
  std::ifstream in(items_path, std::ios::binary);
  if (!in) fail_kind(ErrorKind::kNotFound, items_path.string(), ": missing");
  std::vector<bool> live;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    if (++number > slots) fail(items_path.string(), ": more lines than the manifest's ", slots, " slots");
    const std::string line_label = items_path.string() + ":" + std::to_string(number);
    nlohmann::json j = json_util::parse(line, line_label);
    if (j.is_object() && j.size() == 1 && j.value("removed", false) == true) {
      index.ids_.emplace_back();
      index.fields_.emplace_back(nullptr);
      live.push_back(false);
      continue;
    }
    CatalogItem item = parse_catalog_item(j, {}, line_label);
    if (!index.slot_of_.emplace(item.id, number - 1).second) fail(line_label, ": duplicate id \"", item.id, "\"");
    index.ids_.push_back(item.id);
    index.fields_.push_back(std::move(item.fields));
    live.push_back(true);
  }
  if (number != slots) fail(items_path.string(), ": ", number, " lines, the manifest says ", slots, " slots");
  index.vectors_ = VectorIndex::load(dir, dim, slots, live, mode, config.hnsw);
  return index;
}

nlohmann::json results_json(const std::vector<ScoredItem>& results) {
  nlohmann::json list = nlohmann::json::array();
  for (const ScoredItem& r : results) {
    nlohmann::json entry = r.fields && r.fields->is_object() ? *r.fields : nlohmann::json::object();
    if (!entry.contains("id")) entry["id"] = r.id;
    entry["score"] = r.score;
    list.push_back(std::move(entry));
  }
  return {{"results", list}};
}

void check_embedder_matches(const ItemIndex& index, const Embedder& embedder) {
  const nlohmann::json& built = index.embedder_spec();
  nlohmann::json now = embedder.describe();
  if (built.value("method", "") != now.value("method", "") || index.dim() != embedder.dim()) {
    fail("the index was built with the ", built.value("method", "?"), " method (", index.dim(),
         " dimensions); this model gives ", now.value("method", "?"), " (", embedder.dim(), ")");
  }
  // Any setting besides the model's path must agree too (caption prompt, bigram weight, alpha
  // mode, ...), in both directions: a setting only one side records differs from its default.
  for (const auto& [key, value] : built.items()) {
    if (key == "model") continue;
    if (!now.contains(key) || now[key] != value) {
      fail("the index was built with ", key, " = ", value.dump(), ", this embedder uses ",
           now.contains(key) ? now[key].dump() : "nothing");
    }
  }
  for (const auto& [key, value] : now.items()) {
    if (key != "model" && !built.contains(key)) {
      fail("this embedder uses ", key, " = ", value.dump(), ", the index was built without it");
    }
  }
}

}  // namespace lumen
