// GET /v1/items/{id}/image (item_image.h): an indexed item's own image, by id, and nothing
// else. Traversal attempts (raw, percent-encoded, double-encoded, absolute, NUL, backslash)
// are unknown ids: 404 with an OpenAI-style JSON error, never a file's contents.
#include <gtest/gtest.h>

#include <fstream>

#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/item_index.h"
#include "lumen/server/api_error.h"
#include "lumen/server/item_image.h"
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

// An index of six items whose vectors are unit axes (no embedding needed: only ids and image
// paths matter here), in the bundled model's space so `lumen serve` accepts it.
class ItemImage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("lumen_item_image_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    std::ofstream(*dir_ / "secret.txt") << "not an image: a file the catalog names by mistake\n";
    auto embedder = load_embedder(bundled_model_dir());
    auto item = [](std::string id, std::optional<std::string> image, std::optional<std::string> text = std::nullopt) {
      CatalogItem c;
      c.id = std::move(id);
      c.image = std::move(image);
      c.text = std::move(text);
      c.fields = {{"id", c.id}};
      if (c.image) c.fields["image"] = *c.image;
      if (c.text) c.fields["text"] = *c.text;
      return c;
    };
    const std::vector<CatalogItem> items = {
        item("s0", scene(0).string()),
        item("s1", scene(1).string()),
        item("a/../b", scene(2).string()),  // an id that looks like a path is still only an id
        item("text-only", std::nullopt, "a red circle"),
        item("not-an-image", (*dir_ / "secret.txt").string()),
        item("missing", (*dir_ / "gone.png").string()),
    };
    const int64_t dim = embedder->dim();
    std::vector<float> vectors(items.size() * static_cast<size_t>(dim), 0.0f);
    for (size_t i = 0; i < items.size(); ++i) vectors[i * static_cast<size_t>(dim) + i] = 1.0f;
    index_ = new ItemIndex(embedder->describe(), dim, {}, items.size());
    index_->upsert(items, vectors);
    index_->save(*dir_ / "index");
  }
  static void TearDownTestSuite() {
    delete index_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static fs::path* dir_;
  static ItemIndex* index_;
};

fs::path* ItemImage::dir_ = nullptr;
ItemIndex* ItemImage::index_ = nullptr;

// The status and error code read_item_image throws for `id`.
std::pair<int, std::string> refusal(const ItemIndex& index, const std::string& id, uint64_t max_bytes = 20u << 20) {
  try {
    server::read_item_image(index, id, max_bytes);
  } catch (const server::ApiError& e) {
    return {e.status(), e.code().value_or("")};
  }
  return {200, ""};
}

TEST_F(ItemImage, ReadsTheCataloguedFileByIdOnly) {
  const server::ItemImage image = server::read_item_image(*index_, "s0", 20u << 20);
  EXPECT_EQ(image.content_type, "image/png");
  EXPECT_EQ(image.bytes, read_file(scene(0)));
  EXPECT_EQ(server::read_item_image(*index_, "a/../b", 20u << 20).bytes, read_file(scene(2)));

  EXPECT_EQ(refusal(*index_, "nope"), std::make_pair(404, std::string("item_not_found")));
  EXPECT_EQ(refusal(*index_, "../../etc/passwd"), std::make_pair(404, std::string("item_not_found")));
  EXPECT_EQ(refusal(*index_, scene(0).string()), std::make_pair(404, std::string("item_not_found")));
  EXPECT_EQ(refusal(*index_, "text-only"), std::make_pair(404, std::string("item_has_no_image")));
  EXPECT_EQ(refusal(*index_, "not-an-image"), std::make_pair(404, std::string("image_not_found")));
  EXPECT_EQ(refusal(*index_, "missing"), std::make_pair(404, std::string("image_not_found")));
  EXPECT_EQ(refusal(*index_, "s0", 10), std::make_pair(404, std::string("image_not_found")));  // over the size cap
  try {
    server::read_item_image(*index_, "not-an-image", 20u << 20);
    ADD_FAILURE() << "a file that is not an image was served";
  } catch (const server::ApiError& e) {
    EXPECT_EQ(std::string(e.what()).find(dir_->string()), std::string::npos) << "the message names no path: " << e.what();
  }
}

TEST(ItemImageSniff, KnowsImagesByTheirFirstBytes) {
  EXPECT_EQ(server::sniff_image_type(std::string("\x89PNG\r\n\x1a\n....", 12)), "image/png");
  EXPECT_EQ(server::sniff_image_type("\xff\xd8\xff\xe0"), "image/jpeg");
  EXPECT_EQ(server::sniff_image_type("GIF89a..."), "image/gif");
  EXPECT_EQ(server::sniff_image_type(std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16)), "image/webp");
  EXPECT_EQ(server::sniff_image_type("root:x:0:0:root:/root:/bin/bash"), "");
  EXPECT_EQ(server::sniff_image_type(""), "");
  EXPECT_EQ(server::sniff_image_type("\x89PN"), "");
}

TEST_F(ItemImage, TheEndpointServesIndexedImagesAndRefusesTraversal) {
  server::ServerOptions options;
  options.retrieval_index = (*dir_ / "index").string();
  TestServer server(options);
  auto c = server.client();

  auto ok = c.Get("/v1/items/s1/image");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(ok->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(ok->body, read_file(scene(1)));
  // A percent-encoded id is decoded, then only looked up.
  auto encoded = c.Get("/v1/items/a%2F..%2Fb/image");
  ASSERT_TRUE(encoded);
  EXPECT_EQ(encoded->status, 200);
  EXPECT_EQ(encoded->body, read_file(scene(2)));

  const std::string passwd = read_file("/etc/passwd");
  for (const std::string path : {
           "/v1/items/../../etc/passwd/image",
           "/v1/items/..%2F..%2Fetc%2Fpasswd/image",
           "/v1/items/%2e%2e%2f%2e%2e%2fetc%2fpasswd/image",
           "/v1/items/%252e%252e%252fetc%252fpasswd/image",  // double-encoded
           "/v1/items/....//....//etc/passwd/image",
           "/v1/items//etc/passwd/image",
           "/v1/items/%2Fetc%2Fpasswd/image",
           "/v1/items/file:%2F%2F%2Fetc%2Fpasswd/image",
           "/v1/items/..%5C..%5Cetc%5Cpasswd/image",  // backslashes
           "/v1/items/s0%00.png/image",               // NUL
           "/v1/items/s0/../../../../etc/passwd/image",
           "/v1/items/a%2F..%2F..%2Fb/image",
           "/v1/items/nope/image",
           "/v1/items/text-only/image",
           "/v1/items/not-an-image/image",
           "/v1/items/missing/image",
       }) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    const json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << path << ": " << r->body;
    const std::string code = body["error"]["code"];
    EXPECT_TRUE(code == "item_not_found" || code == "item_has_no_image" || code == "image_not_found" ||
                code == "unknown_url")
        << path << ": " << code;
    if (!passwd.empty()) EXPECT_EQ(r->body.find(passwd.substr(0, 16)), std::string::npos) << path;
    EXPECT_EQ(r->body.find("secret.txt"), std::string::npos) << path;
  }

  auto info = c.Get("/v1/index");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 200);
  const json index = json::parse(info->body);
  EXPECT_EQ(index["object"], "index");
  EXPECT_EQ(index["items"], 6);
  EXPECT_EQ(index["mode"], "exact");
  EXPECT_EQ(index["method"], "caption");
}

TEST(ItemImageRoutes, WithoutAnIndexThereAreNoItems) {
  TestServer server;
  auto c = server.client();
  for (const char* path : {"/v1/items/s0/image", "/v1/index"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "no_index") << path;
  }
}

}  // namespace
}  // namespace lumen::testing
