// Where a request's image bytes come from, and the rules for each source:
//   data:image/png;base64,...  always allowed; the decoded size is bounded from the encoded
//                              length before any decoding, and only PNG and JPEG types pass;
//   /path or file:///path      only under a directory given with --allow-dir (symlinks are
//                              resolved first, so none can lead outside it);
//   http:// or https://        only with --allow-remote-images; the download stops at the
//                              byte limit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lumen::server {

struct ImageSourcePolicy {
  std::vector<std::filesystem::path> allow_dirs;  // canonical directories local paths may be under
  bool allow_remote = false;
  uint64_t max_image_bytes = 20ull << 20;  // encoded file size
  int remote_timeout_s = 10;
};

// The image file's bytes. `param` names the request field in errors. Throws ApiError 400 for
// a refused source, a bad data: URL, an unsupported media type, a missing file, a file or
// download over max_image_bytes, or a failed download.
std::vector<uint8_t> fetch_image_bytes(const std::string& url, const ImageSourcePolicy& policy,
                                       const std::string& param);

}  // namespace lumen::server
