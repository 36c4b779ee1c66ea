// GET / and /web/*: the web app embedded in the binary (web_assets.h, web_routes.cpp). Every
// file under web/ is served byte for byte with its type and a strict CSP, nothing outside the
// table is, the page loads nothing from elsewhere, and with an API key the page's files (GET
// and HEAD only) are the only thing besides /health reachable without it.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "lumen/server/web_assets.h"
#include "test_server.h"

namespace lumen::testing {
namespace {

using nlohmann::json;

TEST(WebAssets, EveryFileUnderWebIsEmbeddedWithItsType) {
  std::set<std::string> embedded;
  for (const auto& asset : server::web_assets()) embedded.insert(asset.url_path);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::filesystem::path(LUMEN_SOURCE_DIR) / "web")) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = std::filesystem::relative(entry.path(), std::filesystem::path(LUMEN_SOURCE_DIR) / "web").string();
    const std::string url = rel == "index.html" ? "/" : "/web/" + rel;
    const server::WebAsset* asset = server::find_web_asset(url);
    ASSERT_NE(asset, nullptr) << rel << " is not embedded (reconfigure to pick up new files)";
    EXPECT_EQ(asset->body, read_file(entry.path())) << rel;
    embedded.erase(url);
  }
  EXPECT_TRUE(embedded.empty()) << "embedded but not under web/: " << *embedded.begin();

  EXPECT_EQ(server::web_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(server::web_content_type("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(server::web_content_type("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(server::web_content_type("icon.svg"), "image/svg+xml");
  EXPECT_EQ(server::web_content_type("archive.tar"), "application/octet-stream");
  EXPECT_EQ(server::find_web_asset("/index.html"), nullptr);  // the page is only at /
  EXPECT_EQ(server::find_web_asset("/web/../CMakeLists.txt"), nullptr);
}

TEST(WebAssets, ThePageUsesOnlyItsOwnFiles) {
  const server::WebAsset* page = server::find_web_asset("/");
  ASSERT_NE(page, nullptr);
  const std::string html(page->body);
  // Every src/href of the page is one of the embedded files (or an in-page anchor).
  const std::regex reference(R"re((?:src|href)="([^"]*)")re");
  int references = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1].str();
    if (target.rfind('#', 0) == 0) continue;
    EXPECT_NE(server::find_web_asset(target), nullptr) << "the page refers to " << target;
    ++references;
  }
  EXPECT_GE(references, 3);  // the module, the style sheet, the icon
  // Offline: no file names another origin (SVG's namespace is a name, never fetched).
  for (const auto& asset : server::web_assets()) {
    const std::string body = std::regex_replace(std::string(asset.body), std::regex("http://www\\.w3\\.org/2000/svg"), "");
    for (const char* remote : {"http://", "https://", "//cdn", "@import", "url("}) {
      EXPECT_EQ(body.find(remote), std::string::npos) << asset.url_path << " contains " << remote;
    }
  }
}

TEST(WebRoutes, ServesThePageAndItsFiles) {
  TestServer server;
  auto c = server.client();
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script type=\"module\" src=\"/web/app.js\"></script>"), std::string::npos);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");

  for (const auto& asset : server::web_assets()) {
    auto r = c.Get(asset.url_path);
    ASSERT_TRUE(r) << asset.url_path;
    EXPECT_EQ(r->status, 200) << asset.url_path;
    EXPECT_EQ(r->get_header_value("Content-Type"), asset.content_type) << asset.url_path;
    EXPECT_EQ(r->body, asset.body) << asset.url_path;
  }

  // Revalidation: the ETag answers 304 with no body.
  const std::string etag = page->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  auto again = c.Get("/", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  auto head = c.Head("/web/app.js");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);

  // Anything else is the usual JSON 404, not a file.
  for (const char* path : {"/index.html", "/web/", "/web/nope.js", "/web/../CMakeLists.txt", "/web/%2e%2e/README.md",
                           "/web/app.js/", "/webapp.js", "/web/app.jsx"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(json::parse(r->body, nullptr, false)["error"]["code"], "unknown_url") << path;
  }
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("lumen_http_requests_total{endpoint=\"/web\",status=\"200\"}"), std::string::npos);
}

TEST(WebRoutes, ThePageNeedsNoKeyButTheApiDoes) {
  server::ServerOptions options;
  options.api_key = "sk-web-test";
  TestServer server(options);
  auto c = server.client();
  for (const auto& asset : server::web_assets()) {
    auto r = c.Get(asset.url_path);
    ASSERT_TRUE(r) << asset.url_path;
    EXPECT_EQ(r->status, 200) << asset.url_path;
  }
  auto head = c.Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);

  // Only GET and HEAD of the listed files are exempt: the API, unknown files and other
  // methods on the page's paths still need the key.
  for (const char* path : {"/v1/models", "/v1/index", "/v1/items/s0/image", "/web/nope.js", "/metrics"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_api_key") << path;
  }
  auto post = c.Post("/", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
  auto chat = c.Post("/v1/chat/completions", user_request("Hello").dump(), "application/json");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 401);

  auto with_key = c.Get("/v1/models", {{"Authorization", "Bearer sk-web-test"}});
  ASSERT_TRUE(with_key);
  EXPECT_EQ(with_key->status, 200);
}

}  // namespace
}  // namespace lumen::testing
