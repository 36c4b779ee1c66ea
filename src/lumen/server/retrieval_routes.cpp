// POST /v1/embeddings (OpenAI shape, with image parts), /v1/search and /v1/recommend over the
// index given with `lumen serve --index DIR`.
//
//   /v1/embeddings  {"model", "input": "text" | ["text", ...] | [{"type": "text", "text"} |
//                    {"type": "image_url", "image_url": {"url"}}, ...], "encoding_format"?}
//                -> {"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
//                    "model", "usage": {"prompt_tokens", "total_tokens"}}
//   /v1/search      {"text" | "image": URL, "k"?: 10}                -> {"results": [...]}
//   /v1/recommend   {"liked": [ids], "disliked"?: [ids], "text"?, "k"?, "diversity"?} -> {"results": [...]}
//   GET /v1/index   -> {"object": "index", "items", "dim", "mode", "method"} (404 without --index)
//   GET /v1/items/{id}/image -> the indexed item's own image file (item_image.h), by id only
// Embeddings come from the index's embedder when an index is loaded (so they are comparable
// with it), else from the served model with its default method ("caption" for Imp models).
// The group owns its embedder and index; one mutex serialises embedding work, which runs on
// the CPU model beside the scheduler's generation.
#include <memory>
#include <mutex>

#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/imp_embedder.h"
#include "lumen/retrieval/item_index.h"
#include "lumen/retrieval/recommend.h"
#include "lumen/server/base64.h"
#include "lumen/server/http_util.h"
#include "lumen/server/image_source.h"
#include "lumen/server/item_image.h"
#include "lumen/server/routes.h"
#include "lumen/vision/image_decode.h"

namespace lumen::server {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxInputs = 256;
constexpr size_t kMaxTextBytes = 64 * 1024;
constexpr size_t kMaxJsonDepth = 32;
constexpr int64_t kMaxK = 1000;

struct RetrievalState {
  std::mutex mutex;
  std::unique_ptr<Embedder> embedder;
  std::unique_ptr<ItemIndex> index;  // null without --index
};

// The served engine wrapped (not owned) as an embedder of `method`.
std::unique_ptr<Embedder> engine_embedder(const Engine& engine, const std::string& method) {
  std::shared_ptr<const Engine> shared(&engine, [](const Engine*) {});
  if (method == "prompt") return std::make_unique<ImpPromptEmbedder>(shared);
  EmbedderOptions options;
  options.image_limits = engine.options().image_limits;
  options.alpha = engine.options().alpha;
  return std::make_unique<ImpCaptionEmbedder>(shared, options);
}

std::shared_ptr<RetrievalState> make_state(const ServerContext& ctx) {
  auto state = std::make_shared<RetrievalState>();
  if (ctx.options.retrieval_index.empty()) {
    state->embedder = engine_embedder(ctx.engine, "caption");
    return state;
  }
  state->index = std::make_unique<ItemIndex>(ItemIndex::load(ctx.options.retrieval_index));
  const json& spec = state->index->embedder_spec();
  const std::string method = spec.value("method", "caption");
  std::error_code ec;
  const bool same_model = std::filesystem::equivalent(spec.value("model", ""), ctx.engine.dir(), ec);
  if (same_model && (method == "caption" || method == "prompt")) {
    state->embedder = engine_embedder(ctx.engine, method);
  } else {
    EmbedderOptions options;
    options.method = method;
    options.image_limits = ctx.engine.options().image_limits;
    options.alpha = ctx.engine.options().alpha;
    state->embedder = load_embedder(spec.value("model", ""), options);
  }
  check_embedder_matches(*state->index, *state->embedder);
  return state;
}

json parse_body(const std::string& body) {
  json::parser_callback_t depth_check = [](int depth, json::parse_event_t, json&) {
    if (static_cast<size_t>(depth) > kMaxJsonDepth) {
      throw ApiError(400, "the request body is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep",
                     std::nullopt, "invalid_json");
    }
    return true;
  };
  json root;
  try {
    root = json::parse(body, depth_check, true);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), std::nullopt, "invalid_json");
  }
  if (!root.is_object()) bad_request("the request body must be a JSON object", std::nullopt, "invalid_json");
  return root;
}

std::string text_of(const json& value, const std::string& param) {
  if (!value.is_string()) bad_request("'" + param + "' must be a string", param, "invalid_type");
  std::string text = value.get<std::string>();
  if (text.size() > kMaxTextBytes) bad_request("'" + param + "' is longer than 65536 bytes", param, "invalid_value");
  return text;
}

int64_t k_of(const json& root) {
  auto it = root.find("k");
  if (it == root.end() || it->is_null()) return 10;
  if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxK) {
    bad_request("'k' must be an integer in [1, 1000]", "k", "invalid_value");
  }
  return it->get<int64_t>();
}

Image fetch_image(const ServerContext& ctx, const std::string& url, const std::string& param) {
  const std::vector<uint8_t> bytes = fetch_image_bytes(url, ctx.options.images, param);
  try {
    return decode_image(bytes, ctx.engine.options().image_limits, "'" + param + "'", ctx.engine.options().alpha);
  } catch (const Error& e) {
    // The same codes as /v1/chat/completions.
    throw ApiError(400, e.what(), param, e.kind() == ErrorKind::kLimitExceeded ? "image_too_large" : "invalid_image");
  }
}

std::vector<std::string> id_list(const json& root, const char* key) {
  std::vector<std::string> ids;
  auto it = root.find(key);
  if (it == root.end() || it->is_null()) return ids;
  if (!it->is_array() || it->size() > kMaxInputs) bad_request(std::string("'") + key + "' must be an array of at most 256 ids", key, "invalid_type");
  for (const auto& id : *it) {
    if (id.is_string()) {
      ids.push_back(id.get<std::string>());
    } else if (id.is_number_integer()) {
      ids.push_back(id.dump());
    } else {
      bad_request(std::string("'") + key + "' must hold string or integer ids", key, "invalid_type");
    }
  }
  return ids;
}

const ItemIndex& require_index(const RetrievalState& state) {
  if (!state.index) throw ApiError(404, "no index is loaded; start the server with --index DIR", std::nullopt, "no_index");
  return *state.index;
}

void handle_embeddings(ServerContext& ctx, RetrievalState& state, const httplib::Request& req, httplib::Response& res) {
  const json root = parse_body(req.body);
  auto input = root.find("input");
  if (input == root.end()) bad_request("'input' is required", "input", "missing_field");
  std::string format = "float";
  if (auto f = root.find("encoding_format"); f != root.end() && !f->is_null()) {
    format = text_of(*f, "encoding_format");
    if (format != "float" && format != "base64") bad_request("'encoding_format' must be \"float\" or \"base64\"", "encoding_format", "invalid_value");
  }
  // Every input in order, as (is_image, text or url).
  struct Input {
    bool image = false;
    std::string value, param;
  };
  std::vector<Input> inputs;
  if (input->is_string()) {
    inputs.push_back({false, text_of(*input, "input"), "input"});
  } else if (input->is_array()) {
    if (input->empty() || input->size() > kMaxInputs) bad_request("'input' must hold 1 to 256 items", "input", "invalid_value");
    for (size_t i = 0; i < input->size(); ++i) {
      const json& item = (*input)[i];
      const std::string param = "input[" + std::to_string(i) + "]";
      if (item.is_string()) {
        inputs.push_back({false, text_of(item, param), param});
        continue;
      }
      if (!item.is_object() || !item.contains("type")) {
        bad_request("'" + param + "' must be a string or a {\"type\": \"text\" | \"image_url\"} part", param, "invalid_type");
      }
      const std::string type = text_of(item["type"], param + ".type");
      if (type == "text") {
        if (!item.contains("text")) bad_request("'" + param + ".text' is required", param + ".text", "missing_field");
        inputs.push_back({false, text_of(item["text"], param + ".text"), param});
      } else if (type == "image_url") {
        const json* image = item.contains("image_url") ? &item["image_url"] : nullptr;
        if (image == nullptr) bad_request("'" + param + ".image_url' is required", param + ".image_url", "missing_field");
        std::string url;
        if (image->is_string()) {
          url = image->get<std::string>();
        } else if (image->is_object() && image->contains("url")) {
          url = text_of((*image)["url"], param + ".image_url.url");
        } else {
          bad_request("'" + param + ".image_url' must be an object with a url", param + ".image_url", "invalid_type");
        }
        inputs.push_back({true, std::move(url), param + ".image_url"});
      } else {
        bad_request("'" + param + ".type' \"" + type + "\" is not supported (use \"text\" or \"image_url\")", param + ".type",
                    "invalid_value");
      }
    }
  } else {
    bad_request("'input' must be a string or an array", "input", "invalid_type");
  }

  std::vector<Image> images;
  std::vector<std::string> texts;
  size_t text_tokens = 0;
  for (const Input& in : inputs) {
    if (in.image) {
      images.push_back(fetch_image(ctx, in.value, in.param));
    } else {
      texts.push_back(in.value);
      text_tokens += ctx.engine.tokenizer().encode(in.value).size();
    }
  }
  std::vector<float> image_vectors, text_vectors;
  int64_t dim = 0;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    image_vectors = state.embedder->embed_images(images);
    text_vectors = state.embedder->embed_texts(texts);
    dim = state.embedder->dim();
  }
  json data = json::array();
  size_t next_image = 0, next_text = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float* v = inputs[i].image ? image_vectors.data() + (next_image++) * dim : text_vectors.data() + (next_text++) * dim;
    json embedding;
    if (format == "base64") {
      embedding = encode_base64(reinterpret_cast<const uint8_t*>(v), static_cast<size_t>(dim) * sizeof(float));
    } else {
      embedding = std::vector<float>(v, v + dim);
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  const size_t tokens = text_tokens + images.size() * static_cast<size_t>(ctx.engine.model().tokens_per_image());
  send_json(res, 200,
            {{"object", "list"},
             {"data", std::move(data)},
             {"model", root.contains("model") && root["model"].is_string() ? root["model"].get<std::string>() : ctx.model_id},
             {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

void handle_search(ServerContext& ctx, RetrievalState& state, const httplib::Request& req, httplib::Response& res) {
  const json root = parse_body(req.body);
  const ItemIndex& index = require_index(state);
  const bool has_text = root.contains("text") && !root["text"].is_null();
  const bool has_image = root.contains("image") && !root["image"].is_null();
  if (has_text == has_image) bad_request("give exactly one of 'text' and 'image'", "text", "invalid_value");
  const int64_t k = k_of(root);
  std::vector<Image> images;
  std::string text;
  if (has_image) {
    images.push_back(fetch_image(ctx, text_of(root["image"], "image"), "image"));
  } else {
    text = text_of(root["text"], "text");
  }
  std::lock_guard<std::mutex> lock(state.mutex);
  const std::vector<float> query = has_image ? state.embedder->embed_images(images) : state.embedder->embed_texts({text});
  send_json(res, 200, results_json(index.search(query.data(), k)));
}

void handle_recommend(ServerContext& ctx, RetrievalState& state, const httplib::Request& req, httplib::Response& res) {
  const json root = parse_body(req.body);
  const ItemIndex& index = require_index(state);
  RecommendRequest request;
  request.liked = id_list(root, "liked");
  request.disliked = id_list(root, "disliked");
  request.k = k_of(root);
  if (auto d = root.find("diversity"); d != root.end() && !d->is_null()) {
    if (!d->is_number() || !(d->get<double>() >= 0.0 && d->get<double>() <= 1.0)) {
      bad_request("'diversity' must be a number in [0, 1]", "diversity", "invalid_value");
    }
    request.diversity = d->get<double>();
  }
  for (const auto* list : {&request.liked, &request.disliked}) {
    for (const auto& id : *list) {
      if (!index.contains(id)) throw ApiError(404, "no item with id \"" + id + "\" in the index", "liked", "item_not_found");
    }
  }
  const bool has_text = root.contains("text") && !root["text"].is_null();
  if (request.liked.empty() && !has_text) bad_request("give 'liked' ids and/or a 'text' preference", "liked", "missing_field");
  std::lock_guard<std::mutex> lock(state.mutex);
  if (has_text) request.preference = state.embedder->embed_texts({text_of(root["text"], "text")});
  send_json(res, 200, results_json(recommend(index, request)));
}

void handle_index_info(RetrievalState& state, httplib::Response& res) {
  const ItemIndex& index = require_index(state);
  send_json(res, 200,
            {{"object", "index"},
             {"items", index.size()},
             {"dim", index.dim()},
             {"mode", index_mode_name(index.mode())},
             {"method", index.embedder_spec().value("method", "")}});
}

// The id arrives percent-decoded by httplib ("a%2Fb" is "a/b"); it is only looked up.
void handle_item_image(ServerContext& ctx, RetrievalState& state, const httplib::Request& req, httplib::Response& res) {
  const ItemIndex& index = require_index(state);
  ItemImage image = read_item_image(index, req.matches[1].str(), ctx.options.images.max_image_bytes);
  res.status = 200;
  res.set_header("Cache-Control", "private, max-age=300");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy", "default-src 'none'; sandbox");
  res.set_content(image.bytes, image.content_type);
}

}  // namespace

void register_retrieval_routes(httplib::Server& http, ServerContext& context) {
  std::shared_ptr<RetrievalState> state = make_state(context);
  http.Post("/v1/embeddings",
            api_handler(context, "/v1/embeddings", [&context, state](const httplib::Request& req, httplib::Response& res) {
              handle_embeddings(context, *state, req, res);
            }));
  http.Post("/v1/search", api_handler(context, "/v1/search", [&context, state](const httplib::Request& req, httplib::Response& res) {
              handle_search(context, *state, req, res);
            }));
  http.Post("/v1/recommend",
            api_handler(context, "/v1/recommend", [&context, state](const httplib::Request& req, httplib::Response& res) {
              handle_recommend(context, *state, req, res);
            }));
  http.Get("/v1/index", api_handler(context, "/v1/index", [state](const httplib::Request&, httplib::Response& res) {
             handle_index_info(*state, res);
           }));
  http.Get(R"(/v1/items/(.+)/image)",
           api_handler(context, "/v1/items/{id}/image", [&context, state](const httplib::Request& req, httplib::Response& res) {
             handle_item_image(context, *state, req, res);
           }));
}

}  // namespace lumen::server
