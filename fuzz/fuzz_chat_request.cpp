// Fuzzes the HTTP body of POST /v1/chat/completions: parse_chat_request (JSON, types, limits,
// nesting depth), then what the route does with an accepted request short of running the
// model: the chat template, and each data: URL image through base64 and the image decoder.
// Local paths and remote URLs are refused by the default policy (no --allow-dir, no
// --allow-remote-images), so the fuzzer never touches the file system or the network.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lumen/core/error.h"
#include "lumen/server/api_error.h"
#include "lumen/server/chat_request.h"
#include "lumen/server/image_source.h"
#include "lumen/text/chat_template.h"
#include "lumen/vision/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  lumen::server::ChatRequest request;
  try {
    request = lumen::server::parse_chat_request(body);
  } catch (const lumen::server::ApiError& e) {
    if (e.status() != 400) std::abort();  // a body is never the server's fault
    return 0;
  } catch (const lumen::Error&) {
    return 0;
  }
  if (request.turns.empty() || request.images.size() > lumen::server::ChatRequestLimits{}.max_images) std::abort();
  try {
    lumen::ChatTemplate chat = lumen::imp_chat_template();
    if (request.system) chat.system = *request.system;
    (void)chat.render(request.turns);
  } catch (const lumen::Error&) {
  }
  lumen::server::ImageSourcePolicy policy;
  policy.max_image_bytes = 1u << 20;
  lumen::ImageLimits limits;
  limits.max_pixels = 1u << 20;
  for (const auto& image : request.images) {
    try {
      const auto bytes = lumen::server::fetch_image_bytes(image.url, policy, image.param);
      (void)lumen::decode_image(bytes, limits, image.param);
    } catch (const lumen::server::ApiError&) {
    } catch (const lumen::Error&) {
    }
  }
  return 0;
}
