// Image embeddings stay in the engine's backend memory from the encode to the prompt's splice:
// on a GPU that is the difference between a device-to-device copy and two trips through the
// host. The engine runs on a recording backend (tests/backend/recording_backend.h) that notes
// the size of every transfer; no image's rows may come down to the host or go up from it, and
// each prompt must splice its image device to device. Covers every runtime path that takes
// images: a chat session over two turns, generate(), and both Imp embedders.
#include <gtest/gtest.h>

#include "backend/recording_backend.h"
#include "lumen/retrieval/imp_embedder.h"
#include "lumen/runtime/chat_session.h"
#include "lumen/runtime/generator.h"
#include "test_data.h"

namespace lumen {
namespace {

TEST(ImageEmbeddings, StayOnTheEnginesBackendFromEncodeToSplice) {
  testing::RecordingBackend backend;
  std::shared_ptr<const Engine> engine = Engine::load(testing::bundled_model_dir(), {}, backend);
  const ImpModel& model = engine->model();
  const size_t image_bytes =
      static_cast<size_t>(model.tokens_per_image() * model.config().text.hidden_size) * sizeof(float);
  const Image image = engine->load_image(std::filesystem::path(LUMEN_SOURCE_DIR) / "examples" / "shapes.png");
  const size_t pixel_bytes = engine->preprocess(image).size() * sizeof(float);
  backend.clear_transfers();

  GenerationOptions options;
  options.max_new_tokens = 6;
  ChatSession chat(*engine);
  chat.attach_images({&image, 1});
  EXPECT_FALSE(chat.send("Describe the image.", options).tokens.empty());
  // The second turn reuses the cache: the image is already in it and is not spliced again.
  const GenerationResult second = chat.send("And the colours?", options);
  EXPECT_GT(second.timings.cached_positions, model.tokens_per_image());
  const GenerationResult once = generate(*engine, "<image>\nWhat is this?", {&image, 1}, options);
  EXPECT_EQ(once.timings.images, 1);
  EXPECT_EQ(ImpPromptEmbedder(engine).embed_images({image}).size(),
            static_cast<size_t>(model.config().text.hidden_size));
  EmbedderOptions caption_options;
  caption_options.max_caption_tokens = 4;
  ImpCaptionEmbedder captions(engine, caption_options);
  captions.embed_images({image});
  ASSERT_EQ(captions.last_captions().size(), 1u);

  // One splice each: the chat's first turn, generate(), the prompt and the caption embedder.
  EXPECT_TRUE(testing::image_embeddings_stayed_on_backend(backend.transfers(), image_bytes, pixel_bytes, 4));
}

TEST(ImageEmbeddings, TheCheckCatchesEmbeddingsThatCrossToTheHost) {
  // The predicate itself, on transfers the old host path made: a download of the encoder's
  // output, then the whole spliced prompt uploaded for the prefill.
  testing::RecordingBackend::Transfers host_path;
  host_path.uploads = {1200, 31 * 400 + 4800};
  host_path.downloads = {4800, 2000};
  EXPECT_FALSE(testing::image_embeddings_stayed_on_backend(host_path, 4800, 1200, 0));
  host_path.downloads = {2000};
  EXPECT_FALSE(testing::image_embeddings_stayed_on_backend(host_path, 4800, 1200, 0));
  host_path.uploads = {1200, 400};
  EXPECT_FALSE(testing::image_embeddings_stayed_on_backend(host_path, 4800, 1200, 1)) << "no splice was made";
  host_path.device_copies = {4800};
  EXPECT_TRUE(testing::image_embeddings_stayed_on_backend(host_path, 4800, 1200, 1));
}

}  // namespace
}  // namespace lumen
