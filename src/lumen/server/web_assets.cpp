#include "lumen/server/web_assets.h"

namespace lumen::server {

std::string web_content_type(std::string_view file_name) {
  struct Type {
    std::string_view extension, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},                   {".png", "image/png"},
      {".json", "application/json"},               {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Type& t : kTypes) {
    if (file_name.size() >= t.extension.size() &&
        file_name.substr(file_name.size() - t.extension.size()) == t.extension) {
      return std::string(t.type);
    }
  }
  return "application/octet-stream";
}

const std::vector<WebAsset>& web_assets() {
  static const std::vector<WebAsset> assets = [] {
    std::vector<WebAsset> out;
    for (const EmbeddedFile& file : web_asset_files()) {
      const std::string path = file.path;
      out.push_back({path == "index.html" ? "/" : "/web/" + path, web_content_type(path),
                     std::string_view(reinterpret_cast<const char*>(file.data), file.size)});
    }
    return out;
  }();
  return assets;
}

const WebAsset* find_web_asset(std::string_view url_path) {
  for (const WebAsset& asset : web_assets()) {
    if (asset.url_path == url_path) return &asset;
  }
  return nullptr;
}

bool is_web_asset_request(std::string_view method, std::string_view path) {
  return (method == "GET" || method == "HEAD") && find_web_asset(path) != nullptr;
}

}  // namespace lumen::server
