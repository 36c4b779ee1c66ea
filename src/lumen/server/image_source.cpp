#include "lumen/server/image_source.h"

#include <algorithm>
#include <fstream>

#include <httplib.h>

#include "lumen/server/api_error.h"
#include "lumen/server/base64.h"

namespace lumen::server {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool starts_with_ci(const std::string& s, const char* prefix) {
  return lower(s.substr(0, std::char_traits<char>::length(prefix))) == prefix;
}

[[noreturn]] void too_large(uint64_t bytes, const ImageSourcePolicy& policy, const std::string& param) {
  throw ApiError(400,
                 "'" + param + "': the image is " + std::to_string(bytes) + " bytes, more than the limit of " +
                     std::to_string(policy.max_image_bytes),
                 param, "image_too_large");
}

std::vector<uint8_t> from_data_url(const std::string& url, const ImageSourcePolicy& policy, const std::string& param) {
  // data:[<media type>][;base64],<data>
  const size_t comma = url.find(',');
  if (comma == std::string::npos) bad_request("'" + param + "': malformed data: URL (no ',')", param, "invalid_image_url");
  const std::string header = lower(url.substr(5, comma - 5));
  const size_t semicolon = header.find(';');
  const std::string media_type = header.substr(0, semicolon);
  if (media_type != "image/png" && media_type != "image/jpeg" && media_type != "image/jpg") {
    bad_request("'" + param + "': unsupported image type '" + media_type + "' (PNG and JPEG are supported)", param,
                "unsupported_image_type");
  }
  if (semicolon == std::string::npos || header.substr(semicolon) != ";base64") {
    bad_request("'" + param + "': data: URLs must be base64-encoded (data:image/png;base64,...)", param,
                "invalid_image_url");
  }
  const std::string_view payload = std::string_view(url).substr(comma + 1);
  if (base64_max_decoded_size(payload.size()) > policy.max_image_bytes + 2) {
    too_large(base64_max_decoded_size(payload.size()), policy, param);
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = decode_base64(payload);
  } catch (const Error& e) {
    bad_request("'" + param + "': " + e.what(), param, "invalid_base64");
  }
  if (bytes.size() > policy.max_image_bytes) too_large(bytes.size(), policy, param);
  if (bytes.empty()) bad_request("'" + param + "': the image is empty", param, "invalid_image");
  return bytes;
}

bool is_under(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

std::vector<uint8_t> from_file(std::string path_text, const ImageSourcePolicy& policy, const std::string& param) {
  if (policy.allow_dirs.empty()) {
    bad_request("'" + param + "': local image paths are disabled (start the server with --allow-dir DIR)", param,
                "image_source_refused");
  }
  if (starts_with_ci(path_text, "file://")) path_text = path_text.substr(7);
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::canonical(path_text, ec);
  if (ec) bad_request("'" + param + "': cannot open '" + path_text + "'", param, "image_not_found");
  const bool allowed = std::any_of(policy.allow_dirs.begin(), policy.allow_dirs.end(),
                                   [&](const auto& dir) { return is_under(path, dir); });
  if (!allowed) {
    bad_request("'" + param + "': '" + path_text + "' is not under an --allow-dir directory", param,
                "image_source_refused");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    bad_request("'" + param + "': '" + path_text + "' is not a file", param, "image_not_found");
  }
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) bad_request("'" + param + "': cannot read '" + path_text + "'", param, "image_not_found");
  if (size > policy.max_image_bytes) too_large(size, policy, param);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    bad_request("'" + param + "': cannot read '" + path_text + "'", param, "image_not_found");
  }
  return bytes;
}

std::vector<uint8_t> from_remote(const std::string& url, const ImageSourcePolicy& policy, const std::string& param) {
  if (!policy.allow_remote) {
    bad_request("'" + param + "': remote image URLs are disabled (start the server with --allow-remote-images)",
                param, "image_source_refused");
  }
  // scheme://host[:port]/path
  const size_t scheme_end = url.find("://");
  const size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  if (!client.is_valid()) bad_request("'" + param + "': invalid image URL", param, "invalid_image_url");
  client.set_connection_timeout(policy.remote_timeout_s, 0);
  client.set_read_timeout(policy.remote_timeout_s, 0);
  client.set_follow_location(false);
  std::vector<uint8_t> bytes;
  bool over = false;
  auto result = client.Get(path, [&](const char* data, size_t length) {
    if (bytes.size() + length > policy.max_image_bytes) {
      over = true;
      return false;
    }
    bytes.insert(bytes.end(), data, data + length);
    return true;
  });
  if (over) too_large(bytes.size() + 1, policy, param);
  if (!result) {
    bad_request("'" + param + "': downloading the image failed (" + httplib::to_string(result.error()) + ")", param,
                "image_download_failed");
  }
  if (result->status != 200) {
    bad_request("'" + param + "': downloading the image returned HTTP " + std::to_string(result->status), param,
                "image_download_failed");
  }
  return bytes;
}

}  // namespace

std::vector<uint8_t> fetch_image_bytes(const std::string& url, const ImageSourcePolicy& policy,
                                       const std::string& param) {
  if (starts_with_ci(url, "data:")) return from_data_url(url, policy, param);
  if (starts_with_ci(url, "http://") || starts_with_ci(url, "https://")) return from_remote(url, policy, param);
  if (starts_with_ci(url, "file://") || (!url.empty() && url[0] == '/')) return from_file(url, policy, param);
  bad_request("'" + param + "': unsupported image URL (use a data:image/...;base64 URL)", param, "invalid_image_url");
}

}  // namespace lumen::server
