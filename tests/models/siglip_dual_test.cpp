// SigLIP dual encoder parity with transformers (tests/data/fixtures/siglip-tiny, float64
// references): tokenizer ids identical, text and image embeddings cosine >= 0.9999,
// logits_per_image within 1e-3.
#include "lumen/models/siglip_dual.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/vision/image_decode.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

fs::path siglip_dir() { return testing::fixtures_dir() / "siglip-tiny"; }

const nlohmann::json& reference() {
  static const nlohmann::json ref = nlohmann::json::parse(testing::read_file(siglip_dir() / "reference.json"));
  return ref;
}

const SiglipDualEncoder& model() {
  static const std::unique_ptr<SiglipDualEncoder> m = SiglipDualEncoder::load(siglip_dir());
  return *m;
}

double cosine(const float* a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    ab += a[i] * b[i];
    aa += double(a[i]) * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::vector<Image> reference_images() {
  std::vector<Image> images;
  for (const auto& name : reference()["images"]) images.push_back(load_image(testing::images_dir() / name.get<std::string>()));
  return images;
}

TEST(SiglipTokenizer, InputIdsMatchTransformers) {
  const auto& ref = reference();
  ASSERT_EQ(ref["texts"].size(), ref["input_ids"].size());
  EXPECT_EQ(model().tokenizer().max_length(), ref["max_length"].get<int64_t>());
  for (size_t i = 0; i < ref["texts"].size(); ++i) {
    const std::string text = ref["texts"][i];
    EXPECT_EQ(model().tokenizer().encode(text), ref["input_ids"][i].get<std::vector<int32_t>>()) << "text: " << text;
  }
}

TEST(SiglipTokenizer, CanonicalizesLikeSiglipTokenizer) {
  EXPECT_EQ(siglip_canonicalize_text("  ROCKET   launch!!\t\n"), "rocket launch");
  EXPECT_EQ(siglip_canonicalize_text("grey-scale   camera, man."), "greyscale camera man");
  EXPECT_EQ(siglip_canonicalize_text("!!!"), "");
  EXPECT_EQ(siglip_canonicalize_text("Caf\xc3\xa9"), "caf\xc3\xa9");  // non-ASCII kept
}

TEST(SiglipDual, TextEmbeddingsMatchTransformers) {
  const auto& ref = reference();
  const std::vector<std::string> texts = ref["texts"].get<std::vector<std::string>>();
  const std::vector<float> embeds = model().embed_texts(texts);
  const int64_t d = model().embedding_dim();
  ASSERT_EQ(embeds.size(), texts.size() * static_cast<size_t>(d));
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_GE(cosine(embeds.data() + i * d, ref["text_embeds"][i].get<std::vector<double>>()), 0.9999) << texts[i];
    // The unnormalised features too (head output), not just their direction.
    const std::vector<float> features = model().text_features(model().tokenizer().encode(texts[i]), 1);
    const auto expected = ref["text_features_unnormalized"][i].get<std::vector<double>>();
    for (size_t j = 0; j < expected.size(); ++j) EXPECT_NEAR(features[j], expected[j], 1e-3) << texts[i] << " dim " << j;
  }
}

TEST(SiglipDual, ImageEmbeddingsAndLogitsMatchTransformers) {
  const auto& ref = reference();
  const std::vector<Image> images = reference_images();
  const std::vector<float> image_embeds = model().embed_images(images);
  const std::vector<float> text_embeds = model().embed_texts(ref["texts"].get<std::vector<std::string>>());
  const int64_t d = model().embedding_dim();
  for (size_t i = 0; i < images.size(); ++i) {
    EXPECT_GE(cosine(image_embeds.data() + i * d, ref["image_embeds"][i].get<std::vector<double>>()), 0.9999)
        << ref["images"][i];
  }
  const std::vector<float> logits = model().logits_per_image(image_embeds, text_embeds);
  const size_t n_texts = ref["texts"].size();
  ASSERT_EQ(logits.size(), images.size() * n_texts);
  double worst = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    for (size_t j = 0; j < n_texts; ++j) {
      worst = std::max(worst, std::fabs(logits[i * n_texts + j] - ref["logits_per_image"][i][j].get<double>()));
    }
  }
  EXPECT_LE(worst, 1e-3);
  std::printf("siglip-tiny: logits_per_image max abs diff %.2e\n", worst);
}

TEST(SiglipDual, RejectsBrokenCheckpoints) {
  EXPECT_THROW(SiglipDualEncoder::load(testing::fixtures_dir() / "imp-tiny-a"), Error);  // not a dual encoder
  EXPECT_THROW(SiglipDualEncoder::load(testing::fixtures_dir() / "no-such-dir"), Error);
  EXPECT_THROW(parse_siglip_dual_config(R"({"model_type": "siglip", "text_config": {"hidden_size": 30, "num_attention_heads": 4}})"),
               Error);
  EXPECT_THROW(parse_siglip_dual_config(R"({"model_type": "siglip", "text_config": 3})"), Error);
  EXPECT_TRUE(is_siglip_dual_dir(siglip_dir()));
  EXPECT_FALSE(is_siglip_dual_dir(testing::bundled_model_dir()));
}

}  // namespace
}  // namespace lumen
