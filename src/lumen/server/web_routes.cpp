// GET / and /web/*: the web app (web/ in the source tree), served from the bytes embedded in
// the binary (web_assets.h). It needs no API key (server.cpp exempts exactly these paths for
// GET and HEAD); the page asks for the key itself and sends it with every API call.
//
// Every response carries a strict Content-Security-Policy: the page loads only its own files
// and talks only to this server, so it works offline and a reply rendered on it cannot pull
// anything in. An ETag (SHA-256 of the file) lets the browser revalidate with a 304.
#include <regex>

#include "lumen/core/content_hash.h"
#include "lumen/server/http_util.h"
#include "lumen/server/routes.h"
#include "lumen/server/web_assets.h"

namespace lumen::server {

namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// httplib matches routes as regular expressions: an asset path must match only itself.
std::string exact_pattern(const std::string& path) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(path, special, R"(\$&)");
}

}  // namespace

void register_web_routes(httplib::Server& http, ServerContext& context) {
  for (const WebAsset& asset : web_assets()) {
    const std::string etag = "\"" + to_hex(sha256(asset.body)).substr(0, 32) + "\"";
    http.Get(exact_pattern(asset.url_path),
             api_handler(context, "/web", [&asset, etag](const httplib::Request& req, httplib::Response& res) {
               res.set_header("Content-Security-Policy", kContentSecurityPolicy);
               res.set_header("X-Content-Type-Options", "nosniff");
               res.set_header("Referrer-Policy", "no-referrer");
               res.set_header("Cache-Control", "no-cache");
               res.set_header("ETag", etag);
               if (req.get_header_value("If-None-Match") == etag) {
                 res.status = 304;
                 return;
               }
               res.status = 200;
               res.set_content(asset.body.data(), asset.body.size(), asset.content_type.c_str());
             }));
  }
}

}  // namespace lumen::server
