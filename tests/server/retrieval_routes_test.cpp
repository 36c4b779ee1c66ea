// POST /v1/embeddings, /v1/search and /v1/recommend on an in-process `lumen serve --index`:
// OpenAI response shape, image parts, base64 encoding, embeddings equal to the index's own
// vectors, and the error for every bad request.
#include <gtest/gtest.h>

#include <cmath>

#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/item_index.h"
#include "test_server.h"

namespace lumen::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path scene(int i) {
  char name[64];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return data_dir() / "eval" / "shapes" / "images" / name;
}

bool g_index_built = false;

// A six-scene index built with the bundled model, once per test process.
const fs::path& shared_index() {
  static const fs::path dir = [] {
    const fs::path path = fs::temp_directory_path() / ("lumen_retrieval_routes_" + std::to_string(::getpid()));
    auto embedder = load_embedder(bundled_model_dir());
    std::vector<CatalogItem> items;
    for (int i = 0; i < 6; ++i) {
      CatalogItem item;
      item.id = "s" + std::to_string(i);
      item.image = scene(i).string();
      item.fields = {{"id", item.id}, {"image", *item.image}, {"n", i}};
      items.push_back(item);
    }
    ItemIndex index(embedder->describe(), embedder->dim(), {}, items.size());
    index.upsert(items, embed_catalog_items(*embedder, items, {}));
    index.save(path);
    g_index_built = true;
    return path;
  }();
  return dir;
}

struct IndexCleanup : ::testing::Environment {
  void TearDown() override {
    if (g_index_built) fs::remove_all(shared_index());
  }
};

json expect_status(const httplib::Result& r, int status, const std::string& code = "") {
  if (!r) {
    ADD_FAILURE() << "no response";
    return {};
  }
  EXPECT_EQ(r->status, status) << r->body;
  json body = json::parse(r->body, nullptr, false);
  if (!code.empty()) EXPECT_EQ(body["error"]["code"], code) << r->body;
  return body;
}

double norm(const json& v) {
  double s = 0;
  for (const auto& x : v) s += x.get<double>() * x.get<double>();
  return std::sqrt(s);
}

TEST(RetrievalRoutes, EmbeddingsInOpenAiShapeWithImageParts) {
  server::ServerOptions options;
  options.retrieval_index = shared_index().string();
  TestServer server(options);
  auto post = [&](const json& body) { return server.client().Post("/v1/embeddings", body.dump(), "application/json"); };

  json r = expect_status(post({{"model", "imp-shapes"}, {"input", "a red circle"}}), 200);
  EXPECT_EQ(r["object"], "list");
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["object"], "embedding");
  EXPECT_EQ(r["data"][0]["index"], 0);
  EXPECT_NEAR(norm(r["data"][0]["embedding"]), 1.0, 1e-4);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 0);

  // Mixed inputs keep their order; an image's embedding is the index's vector of that image.
  json mixed = {{"model", "imp-shapes"},
                {"input", {"a blue square", image_part(data_url(scene(2))), {{"type", "text"}, {"text", "x"}}}}};
  r = expect_status(post(mixed), 200);
  ASSERT_EQ(r["data"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r["data"][i]["index"], i);
  const auto image_vec = r["data"][1]["embedding"].get<std::vector<float>>();
  const ItemIndex index = ItemIndex::load(shared_index());
  const float* stored = index.vector_of("s2");
  double cos = 0;
  for (size_t c = 0; c < image_vec.size(); ++c) cos += image_vec[c] * stored[c];
  EXPECT_NEAR(cos, 1.0, 1e-5);

  // base64: little-endian float32 bytes of the same vector.
  json b = expect_status(post({{"model", "m"}, {"input", {"a blue square"}}, {"encoding_format", "base64"}}), 200);
  const std::vector<uint8_t> bytes = server::decode_base64(b["data"][0]["embedding"].get<std::string>());
  ASSERT_EQ(bytes.size(), r["data"][0]["embedding"].size() * sizeof(float));
  std::vector<float> decoded(bytes.size() / sizeof(float));
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_EQ(decoded, r["data"][0]["embedding"].get<std::vector<float>>());

  expect_status(post({{"model", "m"}}), 400, "missing_field");
  expect_status(post({{"model", "m"}, {"input", 7}}), 400, "invalid_type");
  expect_status(post({{"model", "m"}, {"input", json::array()}}), 400, "invalid_value");
  expect_status(post({{"model", "m"}, {"input", {{{"type", "audio"}}}}}), 400, "invalid_value");
  expect_status(post({{"model", "m"}, {"input", "x"}, {"encoding_format", "int8"}}), 400, "invalid_value");
  expect_status(post({{"model", "m"}, {"input", {image_part("data:image/png;base64,iVBORw0KGgoAAAAAAAAAAAAA")}}}), 400,
                "invalid_image");
  expect_status(server.client().Post("/v1/embeddings", "{\"input\": [", "application/json"), 400, "invalid_json");
}

TEST(RetrievalRoutes, SearchAndRecommend) {
  server::ServerOptions options;
  options.retrieval_index = shared_index().string();
  TestServer server(options);
  auto post = [&](const std::string& path, const json& body) {
    return server.client().Post(path, body.dump(), "application/json");
  };
  // An image query finds that very image first (identical caption, cosine 1).
  json r = expect_status(post("/v1/search", {{"image", data_url(scene(4))}, {"k", 3}}), 200);
  ASSERT_EQ(r["results"].size(), 3u);
  EXPECT_EQ(r["results"][0]["id"], "s4");
  EXPECT_EQ(r["results"][0]["n"], 4);  // metadata comes back
  EXPECT_NEAR(r["results"][0]["score"].get<double>(), 1.0, 1e-4);
  for (size_t i = 1; i < 3; ++i) EXPECT_GE(r["results"][i - 1]["score"], r["results"][i]["score"]);
  r = expect_status(post("/v1/search", {{"text", "a red circle"}}), 200);
  EXPECT_EQ(r["results"].size(), 6u);  // k defaults to 10; six items

  r = expect_status(post("/v1/recommend", {{"liked", {"s0", "s1"}}, {"disliked", {"s5"}}, {"k", 10}}), 200);
  ASSERT_EQ(r["results"].size(), 3u);  // six minus the three seen
  for (const auto& item : r["results"]) {
    EXPECT_NE(item["id"], "s0");
    EXPECT_NE(item["id"], "s1");
    EXPECT_NE(item["id"], "s5");
  }
  r = expect_status(post("/v1/recommend", {{"text", "a green triangle"}, {"k", 2}, {"diversity", 0.5}}), 200);
  EXPECT_EQ(r["results"].size(), 2u);

  expect_status(post("/v1/search", {{"text", "x"}, {"image", "y"}}), 400, "invalid_value");
  expect_status(post("/v1/search", {{"text", "x"}, {"k", 0}}), 400, "invalid_value");
  expect_status(post("/v1/recommend", {{"liked", {"nope"}}}), 404, "item_not_found");
  expect_status(post("/v1/recommend", {{"liked", {"s0"}}, {"diversity", 2}}), 400, "invalid_value");
  expect_status(post("/v1/recommend", json::object()), 400, "missing_field");
}

TEST(RetrievalRoutes, WithoutAnIndexOnlyEmbeddingsWork) {
  TestServer server;
  auto r = server.client().Post("/v1/embeddings", R"({"model": "m", "input": "a red circle"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_status(server.client().Post("/v1/search", R"({"text": "a red circle"})", "application/json"), 404, "no_index");
}

const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new IndexCleanup);

}  // namespace
}  // namespace lumen::testing
