#include "lumen/server/openai_response.h"

#include <atomic>
#include <chrono>
#include <random>

namespace lumen::server {

using nlohmann::json;

namespace {
const char* kFingerprint = "lumen-0.1.0";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

CompletionIds new_completion_ids(const std::string& model) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char id[64];
  std::snprintf(id, sizeof id, "chatcmpl-%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffffffu));
  return {id, std::time(nullptr), model};
}

json usage_json(const SequenceUsage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

json completion_json(const CompletionIds& ids, const std::string& content, const std::string& finish_reason,
                     const SequenceUsage& usage) {
  json message = {{"role", "assistant"}, {"content", content}, {"refusal", nullptr}};
  return {{"id", ids.id},
          {"object", "chat.completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"system_fingerprint", kFingerprint},
          {"choices", json::array({{{"index", 0}, {"message", message}, {"logprobs", nullptr},
                                    {"finish_reason", finish_reason}}})},
          {"usage", usage_json(usage)}};
}

json chunk_json(const CompletionIds& ids, const json& delta, const std::string& finish_reason) {
  json choice = {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (!finish_reason.empty()) choice["finish_reason"] = finish_reason;
  return {{"id", ids.id},
          {"object", "chat.completion.chunk"},
          {"created", ids.created},
          {"model", ids.model},
          {"system_fingerprint", kFingerprint},
          {"choices", json::array({choice})}};
}

json usage_chunk_json(const CompletionIds& ids, const SequenceUsage& usage) {
  return {{"id", ids.id},          {"object", "chat.completion.chunk"},
          {"created", ids.created}, {"model", ids.model},
          {"system_fingerprint", kFingerprint}, {"choices", json::array()},
          {"usage", usage_json(usage)}};
}

std::string sse_event(const json& data) { return "data: " + dump(data) + "\n\n"; }

}  // namespace lumen::server
