// Parsing and validating a POST /v1/chat/completions body (OpenAI's chat-completions API).
//
// Accepted:
//   model (string, required; any name is served by the loaded model), messages (required):
//   [{"role": "system"|"developer"|"user"|"assistant", "content": STRING | [PART...]}], where a
//   PART is {"type": "text", "text": ...} or {"type": "image_url", "image_url": {"url": ...}}
//   (images only in user messages), max_tokens / max_completion_tokens, temperature, top_p,
//   seed, stop (string or up to 4 strings), n (1 only), stream, stream_options.include_usage;
//   as extensions (vLLM's names) top_k, repetition_penalty, ignore_eos; and lumen_alpha
//   ("drop", the default and the reference's, or "white": composite transparent images onto
//   white before they are encoded).
// Refused with 400 naming the parameter: unsupported features that would change the answer
// (tools, logprobs, n > 1, non-zero presence/frequency penalties, JSON response formats).
// Unknown fields are ignored, as most OpenAI-compatible servers do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lumen/runtime/sampler.h"
#include "lumen/text/chat_template.h"
#include "lumen/vision/image_decode.h"

namespace lumen::server {

struct ChatImage {
  std::string url;    // data: URL, file path / file:// URL, or http(s) URL
  std::string param;  // where it was in the request, for error messages: messages[0].content[1]
};

struct ChatRequest {
  std::string model;
  std::optional<std::string> system;  // system/developer messages joined; replaces the template's
  std::vector<ChatTurn> turns;        // user/assistant, alternating, ending with the user
  std::vector<ChatImage> images;      // every image, in prompt order
  std::optional<int64_t> max_tokens;  // absent: until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  std::optional<AlphaMode> alpha;  // lumen_alpha; absent: the server's --alpha
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct ChatRequestLimits {
  size_t max_images = 8;          // images in one request
  size_t max_stop_strings = 4;    // as OpenAI
  size_t max_json_depth = 64;     // nesting of the body
};

// Throws ApiError (400) with the offending parameter for malformed JSON, missing fields, wrong
// types, out-of-range values and unsupported features.
ChatRequest parse_chat_request(std::string_view body, const ChatRequestLimits& limits = {});

}  // namespace lumen::server
