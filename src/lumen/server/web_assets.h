// The web app's files (web/ in the source tree), embedded in the binary at build time by
// cmake/embed_web_assets.cmake, and the URL each is served at:
//   web/index.html -> "/"      (the page)
//   web/<path>     -> "/web/<path>"  (its modules, style sheet and icon)
// Nothing here reads the filesystem: a request can only name one of these fixed paths.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lumen::server {

// One file as the generator writes it: its path under web/ and its bytes.
struct EmbeddedFile {
  const char* path;
  const unsigned char* data;
  size_t size;
};

// Every embedded file, sorted by path (defined in the generated web_assets_data.cpp).
std::span<const EmbeddedFile> web_asset_files();

struct WebAsset {
  std::string url_path;      // "/" or "/web/app.js"
  std::string content_type;  // from the extension, e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The assets with their URLs, built once.
const std::vector<WebAsset>& web_assets();
// The asset served at `url_path`, or null.
const WebAsset* find_web_asset(std::string_view url_path);
// The media type for a file name's extension; "application/octet-stream" when unknown.
std::string web_content_type(std::string_view file_name);
// True for a GET or HEAD of an asset: the only requests, besides /health and /ready, that need no API key
// (the page must load before it can ask for the key). Every API route stays protected.
bool is_web_asset_request(std::string_view method, std::string_view path);

}  // namespace lumen::server
