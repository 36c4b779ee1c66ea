// The JSON objects OpenAI's chat-completions API returns: a whole completion, the chunks of a
// streamed one (sent as server-sent events "data: {...}\n\n", then "data: [DONE]\n\n").
#pragma once

#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "lumen/runtime/sequence_stream.h"

namespace lumen::server {

struct CompletionIds {
  std::string id;      // "chatcmpl-<24 hex digits>"
  std::time_t created; // unix seconds
  std::string model;
};

CompletionIds new_completion_ids(const std::string& model);

nlohmann::json usage_json(const SequenceUsage& usage);

// {"object": "chat.completion", "choices": [{"message": {"role": "assistant", "content"}, "finish_reason"}], "usage"}
nlohmann::json completion_json(const CompletionIds& ids, const std::string& content, const std::string& finish_reason,
                               const SequenceUsage& usage);

// {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason"}]};
// finish_reason empty -> null.
nlohmann::json chunk_json(const CompletionIds& ids, const nlohmann::json& delta, const std::string& finish_reason = "");

// The last chunk when stream_options.include_usage: no choices, the usage.
nlohmann::json usage_chunk_json(const CompletionIds& ids, const SequenceUsage& usage);

// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& data);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

}  // namespace lumen::server
