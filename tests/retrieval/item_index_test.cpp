// Catalogs, lexical caption features, ItemIndex (upsert, remove, save/load, refusal of bad
// files) and recommendation (profile, exclusion, MMR diversity), with a deterministic embedder
// so nothing here needs a model.
#include "lumen/retrieval/item_index.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"
#include "lumen/retrieval/recommend.h"
#include "lumen/retrieval/text_features.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lumen_items_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove_all(path.string() + ".idx", ec);
  }
};

// Texts embed as lexical features; no images.
class LexicalEmbedder : public Embedder {
 public:
  int64_t dim() const override { return 256; }
  std::string method() const override { return "lexical-test"; }
  nlohmann::json describe() const override { return {{"method", method()}, {"dim", dim()}}; }
  std::vector<float> embed_images(const std::vector<Image>& images) const override {
    if (!images.empty()) throw Error("no images here");
    return {};
  }
  std::vector<float> embed_texts(const std::vector<std::string>& texts) const override {
    std::vector<float> out;
    for (const auto& t : texts) {
      auto v = lexical_features(content_words(t), {256, 2.0f});
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }
};

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

TEST(TextFeatures, ContentWordsAndBigramsBindAttributes) {
  auto words = content_words("A small red circle, and a blue square at the top.");
  std::vector<std::string> w;
  for (auto& x : words) w.push_back(x.word);
  EXPECT_EQ(w, (std::vector<std::string>{"small", "red", "circle", "blue", "square", "top"}));
  EXPECT_FALSE(words[0].follows_previous);
  EXPECT_TRUE(words[2].follows_previous);   // red circle
  EXPECT_FALSE(words[3].follows_previous);  // comma + "and a" break the phrase
  // The bigram makes "red circle" closer to a red circle than to a red square + blue circle.
  const auto query = lexical_features(content_words("a red circle"));
  const auto bound = lexical_features(content_words("a large red circle"));
  const auto swapped = lexical_features(content_words("a red square and a blue circle"));
  EXPECT_GT(dot(query.data(), bound.data(), 1024), dot(query.data(), swapped.data(), 1024) + 0.2);
  // Confidence per byte: a word takes its least sure byte's weight.
  const std::string text = "red circle";
  std::vector<float> weights(text.size(), 1.0f);
  weights[1] = 0.25f;
  EXPECT_FLOAT_EQ(content_words(text, weights)[0].weight, 0.25f);
  EXPECT_THROW(content_words(text, {0.5f}), Error);
  // No content: a zero vector, not NaN.
  for (float x : lexical_features(content_words("the and of"))) EXPECT_EQ(x, 0.0f);
}

TEST(Catalog, ReadsItemsAndRefusesBadLines) {
  TempDir dir;
  write(dir.path / "c.jsonl", "{\"id\": \"a\", \"text\": \"red\", \"price\": 3}\n\n{\"id\": 7, \"image\": \"x.png\"}\n");
  auto items = read_catalog(dir.path / "c.jsonl");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].fields["price"], 3);
  EXPECT_EQ(items[1].id, "7");
  EXPECT_EQ(*items[1].image, (dir.path / "x.png").string());  // relative to the catalog
  EXPECT_EQ(items[1].line, 3u);
  auto refuses = [&](const std::string& text, const std::string& fragment) {
    write(dir.path / "bad.jsonl", text);
    try {
      read_catalog(dir.path / "bad.jsonl");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  refuses("{\"text\": \"x\"}\n", "missing \"id\"");
  refuses("{\"id\": \"a\"}\n", "needs an \"image\" or a \"text\"");
  refuses("{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n", ":2: duplicate id");
  refuses("{\"id\": [1], \"text\": \"x\"}\n", "string or an integer");
  refuses("{\"id\": \"a\", \"text\": 5}\n", "must be a string");
  refuses("not json\n", "invalid JSON");
  EXPECT_THROW(read_catalog(dir.path / "missing.jsonl"), Error);
  CatalogLimits limits;
  limits.max_items = 1;
  write(dir.path / "two.jsonl", "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"b\"}\n");
  EXPECT_THROW(read_catalog(dir.path / "two.jsonl", limits), Error);
}

std::vector<CatalogItem> items_of(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<CatalogItem> items;
  for (const auto& [id, text] : pairs) {
    CatalogItem item;
    item.id = id;
    item.text = text;
    item.fields = {{"id", id}, {"text", text}};
    items.push_back(item);
  }
  return items;
}

TEST(ItemIndex, UpsertRemoveSaveLoadInBothModes) {
  TempDir dir;
  LexicalEmbedder embedder;
  const auto items = items_of({{"a", "red circle"}, {"b", "blue square"}, {"c", "red square"}, {"d", "green triangle"}});
  for (IndexMode mode : {IndexMode::kExact, IndexMode::kHnsw}) {
    IndexConfig config;
    config.mode = mode;
    ItemIndex index(embedder.describe(), embedder.dim(), config, items.size());
    index.upsert(items, embed_catalog_items(embedder, items, {}));
    const auto query = embedder.embed_texts({"a red circle"});
    auto results = index.search(query.data(), 2);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].id, "a");
    EXPECT_EQ((*results[0].fields)["text"], "red circle");
    // Replace "a", remove "c", then round-trip through disk.
    const auto changed = items_of({{"a", "yellow triangle"}});
    index.upsert(changed, embed_catalog_items(embedder, changed, {}));
    index.remove({"c"});
    EXPECT_THROW(index.remove({"zzz"}), Error);
    EXPECT_EQ(index.size(), 3u);
    const fs::path path = dir.path.string() + ".idx";
    index.save(path);
    ItemIndex loaded = ItemIndex::load(path);
    EXPECT_EQ(loaded.size(), 3u);
    EXPECT_EQ(loaded.mode(), mode);
    EXPECT_FALSE(loaded.contains("c"));
    results = loaded.search(embedder.embed_texts({"yellow triangle"}).data(), 3);
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].id, "a");
    EXPECT_NEAR(results[0].score, 1.0f, 1e-5f);
    check_embedder_matches(loaded, embedder);
  }
}

TEST(ItemIndex, RefusesDamagedIndexes) {
  TempDir dir;
  LexicalEmbedder embedder;
  const auto items = items_of({{"a", "red circle"}, {"b", "blue square"}});
  ItemIndex index(embedder.describe(), embedder.dim(), {}, items.size());
  index.upsert(items, embed_catalog_items(embedder, items, {}));
  const fs::path path = dir.path.string() + ".idx";
  index.save(path);
  const std::string manifest = [&] {
    std::ifstream in(path / "manifest.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto expect_refused = [&](const std::string& fragment) {
    try {
      ItemIndex::load(path);
      ADD_FAILURE() << "loaded a damaged index";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  auto edit_manifest = [&](const std::string& from, const std::string& to) {
    std::string m = manifest;
    m.replace(m.find(from), from.size(), to);
    write(path / "manifest.json", m);
  };
  edit_manifest("\"slots\": 2", "\"slots\": 3");
  expect_refused("lines");
  edit_manifest("\"slots\": 2", "\"slots\": 99999999999");
  expect_refused("slots");
  edit_manifest("\"dim\": 256", "\"dim\": 128");
  expect_refused("vectors");
  edit_manifest("\"version\": 1", "\"version\": 9");
  expect_refused("version 9");
  write(path / "manifest.json", manifest);
  write(path / "items.jsonl", "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n");
  expect_refused("duplicate id");
  EXPECT_THROW(ItemIndex::load(dir.path / "nothing"), Error);
  // A directory that is not an index is never replaced by save().
  write(dir.path / "keep.txt", "mine");
  EXPECT_THROW(index.save(dir.path), Error);
  EXPECT_TRUE(fs::exists(dir.path / "keep.txt"));
  // An embedder of another space is refused.
  class Other : public LexicalEmbedder {
    int64_t dim() const override { return 128; }
  } other;
  ItemIndex fresh(embedder.describe(), embedder.dim(), {}, 0);
  EXPECT_THROW(check_embedder_matches(fresh, other), Error);
}

TEST(Recommend, ProfileExclusionAndDiversity) {
  LexicalEmbedder embedder;
  const auto items = items_of({{"r1", "red circle"},
                               {"r2", "red circle small"},
                               {"r3", "red circle large"},
                               {"r4", "red circle top"},
                               {"r5", "red circle bottom"},
                               {"b1", "blue square"},
                               {"g1", "green triangle"},
                               {"x1", "red circle blue square"}});
  ItemIndex index(embedder.describe(), embedder.dim(), {}, items.size());
  index.upsert(items, embed_catalog_items(embedder, items, {}));
  RecommendRequest request;
  request.liked = {"r1", "r2"};
  request.k = 3;
  auto results = recommend(index, request);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_NE(r.id, "r1");
    EXPECT_NE(r.id, "r2");
    EXPECT_EQ(r.id.substr(0, 1), "r");  // more red circles first
  }
  // Disliking blue squares pushes x1 (red circle + blue square) below the pure red circles.
  request.k = 4;
  request.disliked = {"b1"};
  results = recommend(index, request);
  EXPECT_EQ(results.back().id, "x1");
  // Full diversity picks a mix rather than three near-copies.
  request.disliked.clear();
  request.k = 3;
  request.diversity = 0.9;
  results = recommend(index, request);
  std::set<std::string> kinds;
  for (const auto& r : results) kinds.insert(r.id.substr(0, 1));
  EXPECT_GE(kinds.size(), 2u);
  // A text preference alone works; bad requests throw.
  RecommendRequest text_only;
  text_only.preference = embedder.embed_texts({"green triangle"});
  text_only.k = 1;
  EXPECT_EQ(recommend(index, text_only)[0].id, "g1");
  RecommendRequest empty;
  EXPECT_THROW(recommend(index, empty), Error);
  RecommendRequest unknown;
  unknown.liked = {"nope"};
  EXPECT_THROW(recommend(index, unknown), Error);
  RecommendRequest bad = request;
  bad.diversity = 1.5;
  EXPECT_THROW(recommend(index, bad), Error);
}

}  // namespace
}  // namespace lumen
