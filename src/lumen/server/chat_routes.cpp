// POST /v1/chat/completions: validate, build the prompt with the checkpoint's chat template,
// resolve and encode images (cache first), queue the sequence on the batch scheduler, and
// answer with one JSON completion or a stream of server-sent events.
#include <chrono>
#include <memory>

#include "lumen/runtime/generator.h"
#include "lumen/server/chat_request.h"
#include "lumen/server/http_util.h"
#include "lumen/server/openai_response.h"
#include "lumen/server/routes.h"
#include "lumen/vision/image_decode.h"

namespace lumen::server {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Builds the prompt tokens; throws 400 for a bad conversation or a prompt over the limits.
std::vector<int32_t> prompt_tokens(const ServerContext& ctx, const ChatRequest& chat) {
  ChatTemplate chat_template = ctx.chat_template;
  if (chat.system) chat_template.system = *chat.system;
  std::string prompt;
  try {
    prompt = chat_template.render(chat.turns);
  } catch (const Error& e) {
    bad_request(e.what(), "messages", "invalid_value");
  }
  std::vector<int32_t> tokens = ctx.engine.encode_prompt(prompt);
  int64_t positions = 0;
  try {
    positions = count_prompt_positions(ctx.engine, tokens, chat.images.size());
  } catch (const Error& e) {
    bad_request(e.what(), "messages",
                e.kind() == ErrorKind::kLimitExceeded ? "context_length_exceeded" : "invalid_value");
  }
  const int64_t limit = ctx.options.max_prompt_tokens > 0 ? ctx.options.max_prompt_tokens
                                                          : ctx.engine.model().config().text.max_positions;
  if (positions > limit) {
    bad_request("the prompt needs " + std::to_string(positions) + " tokens (images included), more than the limit of " +
                    std::to_string(limit),
                "messages", "context_length_exceeded");
  }
  return tokens;
}

// Embeddings for every image of the request, from the cache or the batched encoder. An image
// found in the cache is not even decoded.
void resolve_images(ServerContext& ctx, const ChatRequest& chat, SequenceRequest& seq) {
  const AlphaMode alpha = chat.alpha.value_or(ctx.engine.options().alpha);
  for (const ChatImage& image : chat.images) {
    std::vector<uint8_t> bytes = fetch_image_bytes(image.url, ctx.options.images, image.param);
    ContentHash hash = sha256(bytes.data(), bytes.size());
    // The same bytes give other pixels when composited, so the mode is part of the cache key.
    if (alpha == AlphaMode::kWhite) hash = sha256("alpha=white:" + to_hex(hash));
    ImageEmbedding embedding = ctx.image_cache.find(hash);
    if (embedding) {
      ctx.metrics.image_cache_hits += 1;
    } else {
      ctx.metrics.image_cache_misses += 1;
      std::vector<float> pixels;
      try {
        const Image decoded = decode_image(bytes, ctx.engine.options().image_limits, "'" + image.param + "'", alpha);
        bytes = {};
        pixels = ctx.engine.preprocess(decoded);
      } catch (const Error& e) {
        throw ApiError(400, e.what(), image.param,
                       e.kind() == ErrorKind::kLimitExceeded ? "image_too_large" : "invalid_image");
      }
      embedding = ctx.image_encoder.encode(hash, std::move(pixels));
    }
    seq.image_hashes.push_back(hash);
    seq.images.push_back(std::move(embedding));
  }
}

// The reply starts after "ASSISTANT:"; clients get it without the template's leading space.
void strip_leading_spaces(std::string& text, bool& started) {
  if (started) return;
  const size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) {
    text.clear();
    return;
  }
  text.erase(0, first);
  started = true;
}

void answer_whole(ServerContext& ctx, const std::shared_ptr<SequenceStream>& stream, const CompletionIds& ids,
                  Clock::time_point arrival, httplib::Response& res) {
  std::string content;
  bool started = false;
  for (;;) {
    SequenceStream::Update update = stream->take(std::chrono::milliseconds(1000));
    strip_leading_spaces(update.text, started);
    content += update.text;
    if (!update.finished) continue;
    if (update.error) throw to_api_error(update.error);
    send_json(res, 200, completion_json(ids, content, update.finish_reason, update.usage));
    ctx.metrics.request_seconds.observe(seconds_since(arrival));
    return;
  }
}

void answer_streamed(ServerContext& ctx, const std::shared_ptr<SequenceStream>& stream, const CompletionIds& ids,
                     bool include_usage, Clock::time_point arrival, httplib::Response& res) {
  struct State {
    bool sent_role = false;
    bool started = false;
  };
  auto state = std::make_shared<State>();
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [&ctx, stream, ids, include_usage, arrival, state](size_t, httplib::DataSink& sink) {
        auto send = [&](const std::string& event) {
          if (sink.write(event.data(), event.size())) return true;
          stream->cancel();  // the client went away: free its sequence
          return false;
        };
        if (!state->sent_role) {
          state->sent_role = true;
          if (!send(sse_event(chunk_json(ids, {{"role", "assistant"}, {"content", ""}})))) return false;
        }
        SequenceStream::Update update = stream->take(std::chrono::milliseconds(250));
        strip_leading_spaces(update.text, state->started);
        if (!update.text.empty() && !send(sse_event(chunk_json(ids, {{"content", update.text}})))) return false;
        if (!update.finished) return true;
        if (update.error) {
          if (!send(sse_event(to_api_error(update.error).to_json()))) return false;
        } else {
          if (!send(sse_event(chunk_json(ids, nlohmann::json::object(), update.finish_reason)))) return false;
          if (include_usage && !send(sse_event(usage_chunk_json(ids, update.usage)))) return false;
        }
        if (!send(kSseDone)) return false;
        ctx.metrics.request_seconds.observe(seconds_since(arrival));
        sink.done();
        return true;
      },
      [stream](bool success) {
        if (!success) stream->cancel();
      });
}

void chat_completions(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const Clock::time_point arrival = Clock::now();
  ChatRequest chat = parse_chat_request(req.body, ctx.options.request_limits);
  SequenceRequest seq;
  seq.arrival = arrival;
  seq.prompt_tokens = prompt_tokens(ctx, chat);
  resolve_images(ctx, chat, seq);
  seq.options.max_new_tokens = chat.max_tokens.value_or(ctx.engine.model().config().text.max_positions);
  seq.options.sampling = chat.sampling;
  seq.options.stop = chat.stop;
  seq.options.ignore_eos = chat.ignore_eos;
  std::shared_ptr<SequenceStream> stream = ctx.scheduler.submit(std::move(seq));
  const CompletionIds ids = new_completion_ids(ctx.model_id);
  if (chat.stream) {
    answer_streamed(ctx, stream, ids, chat.include_usage, arrival, res);
  } else {
    answer_whole(ctx, stream, ids, arrival, res);
  }
}

}  // namespace

void register_chat_routes(httplib::Server& http, ServerContext& context) {
  http.Post("/v1/chat/completions",
            api_handler(context, "/v1/chat/completions",
                        [&context](const httplib::Request& req, httplib::Response& res) {
                          chat_completions(context, req, res);
                        }));
}

}  // namespace lumen::server
