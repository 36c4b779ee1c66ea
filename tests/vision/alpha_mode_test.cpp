// Transparency: by default Lumen drops the alpha channel as Image.convert("RGB") does (what
// Imp's processor runs); compositing onto white is an explicit choice, `--alpha white` on the
// CLI and "lumen_alpha": "white" in a request. The white references come from PIL
// (tests/data/pil/alpha_white_u8.safetensors, scripts/make-pil-pad-fixture.py).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/runtime/engine.h"
#include "lumen/vision/image_decode.h"
#include "lumen/vision/image_preprocess.h"
#include "lumen/vision/resize_bicubic.h"
#include "server/test_server.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

const fs::path kTransparent = testing::fixtures_dir() / "preprocess" / "alpha_gradient.png";  // RGBA, partial alpha

Image reference_image(const TensorView& view) {
  Image image;
  image.height = static_cast<int>(view.shape.at(0));
  image.width = static_cast<int>(view.shape.at(1));
  image.rgb.assign(view.data, view.data + view.nbytes);
  return image;
}

TEST(AlphaMode, WhiteCompositingMatchesPil) {
  const auto reference = SafetensorsFile::open(testing::data_dir() / "pil" / "alpha_white_u8.safetensors");
  const Image dropped = load_image(kTransparent);
  const Image white = load_image(kTransparent, {}, AlphaMode::kWhite);
  EXPECT_NE(dropped.rgb, white.rgb);
  for (int size : {56, 64}) {
    SCOPED_TRACE(size);
    const TensorView* want = reference->find("alpha_gradient.png@" + std::to_string(size));
    ASSERT_NE(want, nullptr);
    EXPECT_EQ(resize_bicubic_pil(white, size, size).rgb, reference_image(*want).rgb);
  }
  EXPECT_EQ(parse_alpha_mode("white", "x"), AlphaMode::kWhite);
  EXPECT_EQ(parse_alpha_mode("drop", "x"), AlphaMode::kDrop);
  EXPECT_THROW(parse_alpha_mode("black", "x"), Error);
}

TEST(AlphaMode, EngineOptionComposites) {
  EngineOptions options;
  options.alpha = AlphaMode::kWhite;
  const auto engine = Engine::load(testing::bundled_model_dir(), options);  // 64 px
  const auto reference = SafetensorsFile::open(testing::data_dir() / "pil" / "alpha_white_u8.safetensors");
  const TensorView* want = reference->find("alpha_gradient.png@64");
  ASSERT_NE(want, nullptr);
  const std::array<float, 3> half = {0.5f, 0.5f, 0.5f};
  EXPECT_EQ(engine->preprocess(engine->load_image(kTransparent)), normalize_to_chw(reference_image(*want), half, half));
}

// The CLI's --alpha reaches the pixels: the prompt embedding of a transparent image changes
// with it, that of an opaque one does not; a bad value is a usage error.
TEST(AlphaMode, CliAlphaWhite) {
  auto embedding = [](const fs::path& image, const char* alpha) {
    auto r = testing::run_cli({"embed", "--method", "prompt", "--image", image.string(), "--alpha", alpha, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["data"][0]["embedding"];
  };
  EXPECT_NE(embedding(kTransparent, "drop"), embedding(kTransparent, "white"));
  const fs::path opaque = testing::images_dir() / "chelsea.png";
  EXPECT_EQ(embedding(opaque, "drop"), embedding(opaque, "white"));

  auto bad = testing::run_cli({"ask", "--alpha", "black", "-i", kTransparent.string(), "What is it?"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--alpha must be drop or white"), std::string::npos) << bad.err;
}

// "lumen_alpha" per request: the composited image is encoded on its own (its own cache entry),
// and a bad value is a 400 naming the parameter.
TEST(AlphaMode, ServerRequestOption) {
  testing::TestServer server;
  const std::string url = testing::data_url(kTransparent);
  for (const char* alpha : {"drop", "white", "white"}) {
    auto r = server.chat(testing::user_request("Describe the image.", {url}, {{"max_tokens", 4}, {"lumen_alpha", alpha}}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(server.metric("lumen_image_cache_misses_total"), 2);
  EXPECT_EQ(server.metric("lumen_image_cache_hits_total"), 1);

  auto bad = server.chat(testing::user_request("Describe the image.", {url}, {{"lumen_alpha", "black"}}));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad->body)["error"]["param"], "lumen_alpha") << bad->body;
}

}  // namespace
}  // namespace lumen
