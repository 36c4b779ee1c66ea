// The server runs every prefill and decode on the engine's backend. The engine here is loaded on
// a recording backend (tests/backend/recording_backend.h), which forwards to the CPU backend
// and counts the KV-cache positions written through it: for every request, what the response's
// usage says was computed (prompt positions not reused, and each generated token but the last,
// whose logits nobody reads) must have passed through that backend, one position per layer;
// and the image's embeddings must never have crossed to the host.
#include <gtest/gtest.h>

#include "backend/recording_backend.h"
#include "test_server.h"

namespace lumen::server {
namespace {

using nlohmann::json;

TEST(ServerBackend, EveryPrefillAndDecodeRunsOnTheEnginesBackend) {
  testing::RecordingBackend backend;
  auto engine = Engine::load(testing::bundled_model_dir(), {}, backend);
  const int64_t layers = engine->model().config().text.num_layers;
  EXPECT_EQ(engine->backend().name(), "recording(cpu)");
  const int64_t loaded_positions = backend.kv_positions.load();
  EXPECT_EQ(loaded_positions, 0);

  backend.clear_transfers();
  testing::TestServer server({}, *engine);
  const std::string image = testing::data_url(std::filesystem::path(LUMEN_SOURCE_DIR) / "examples" / "shapes.png");
  int64_t computed = 0;
  json messages = json::array({{{"role", "user"},
                                {"content", json::array({{{"type", "image_url"}, {"image_url", {{"url", image}}}},
                                                         {{"type", "text"}, {"text", "Describe the image."}}})}}});
  for (int turn = 0; turn < 2; ++turn) {  // the second turn reuses the first's KV cache
    auto r = server.chat({{"model", "imp"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}});
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
    const json body = json::parse(r->body);
    const json usage = body["usage"];
    const int64_t cached = usage["prompt_tokens_details"]["cached_tokens"].get<int64_t>();
    const int64_t prompt = usage["prompt_tokens"].get<int64_t>();
    const int64_t completion = usage["completion_tokens"].get<int64_t>();
    ASSERT_GT(completion, 0);
    if (turn == 1) EXPECT_GT(cached, 0) << "the follow-up turn should reuse the first one's prefix";
    computed += (prompt - cached) + (completion - 1);
    messages.push_back({{"role", "assistant"}, {"content", body["choices"][0]["message"]["content"]}});
    messages.push_back({{"role", "user"}, {"content", "And the colours?"}});
  }
  EXPECT_EQ(backend.kv_positions.load() - loaded_positions, computed * layers)
      << "positions computed elsewhere than on the engine's backend";
  EXPECT_GT(backend.decode_attention_calls.load(), 0);
  EXPECT_GT(backend.prefill_attention_calls.load(), 0);
  // The image was encoded there too (the vision tower's attention is prefill-shaped).
  EXPECT_GE(backend.prefill_attention_calls.load(),
            static_cast<int64_t>(engine->model().config().vision_layers_to_run));
  // ... and its embeddings stayed there: encoded into backend memory, cached, and spliced into
  // the first turn's prompt device to device (the second turn reuses those positions).
  const ImpModel& model = engine->model();
  const size_t image_bytes =
      static_cast<size_t>(model.tokens_per_image() * model.config().text.hidden_size) * sizeof(float);
  const size_t pixel_bytes = static_cast<size_t>(3 * model.config().vision.image_size * model.config().vision.image_size) *
                             sizeof(float);
  EXPECT_TRUE(testing::image_embeddings_stayed_on_backend(backend.transfers(), image_bytes, pixel_bytes, 1));
}

}  // namespace
}  // namespace lumen::server
