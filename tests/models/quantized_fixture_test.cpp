// Weight formats chosen at load (--quant) and written ahead (write_quantized_checkpoint, what
// `lumen quantize` runs), on the imp-tiny-a fixture: first-step logits against the float64
// reference (cosine similarity), and a quantized checkpoint that loads to exactly what
// converting at load gives. The CLI's own test of `lumen quantize` is in tests/cli.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lumen/formats/safetensors.h"
#include "lumen/models/quantized_checkpoint.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "models/fixture_reference.h"
#include "test_data.h"

namespace lumen {
namespace {

std::filesystem::path image_path(const std::string& name) {
  auto in_images = testing::images_dir() / name;
  return std::filesystem::exists(in_images) ? in_images : testing::fixtures_dir() / "preprocess" / name;
}

// First-step logits of every case of imp-tiny-a with the given engine.
std::vector<std::pair<std::string, std::vector<float>>> first_logits(const Engine& e) {
  const auto dir = testing::fixtures_dir() / "imp-tiny-a";
  auto ref = nlohmann::json::parse(testing::read_file(dir / "reference.json"));
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (const auto& c : ref["cases"]) {
    std::vector<Image> images;
    for (const auto& file : c["images"]) images.push_back(e.load_image(image_path(file)));
    GenerationOptions options;
    options.max_new_tokens = 1;
    options.keep_logits = true;
    GenerationResult r = generate(e, c["prompt"].get<std::string>(), images, options);
    out.emplace_back(c["name"].get<std::string>(), r.first_logits);
  }
  return out;
}

double worst_cosine(const char* quant) {
  const auto dir = testing::fixtures_dir() / "imp-tiny-a";
  EngineOptions options;
  options.quant.vision = options.quant.llm = parse_weight_format(quant);
  auto engine = Engine::load(dir, options);
  auto ref = SafetensorsFile::open(dir / "reference.safetensors");
  double worst = 1.0;
  for (const auto& [name, logits] : first_logits(*engine)) {
    const TensorView* expected = ref->find(name + ".logits_first");
    EXPECT_NE(expected, nullptr) << name;
    if (expected == nullptr) continue;
    EXPECT_EQ(static_cast<size_t>(expected->numel()), logits.size());
    const double c = testing::cosine(logits, reinterpret_cast<const float*>(expected->data));
    std::printf("[ quant    ] %-5s %-28s cosine %.6f\n", quant, name.c_str(), c);
    worst = std::min(worst, c);
  }
  return worst;
}

TEST(QuantizedFixture, Q8FirstLogitsKeepCosineAbove0999) { EXPECT_GE(worst_cosine("q8_0"), 0.999); }
TEST(QuantizedFixture, Bf16FirstLogitsKeepCosineAbove0999) { EXPECT_GE(worst_cosine("bf16"), 0.999); }
TEST(QuantizedFixture, Q4FirstLogitsStayClose) { EXPECT_GE(worst_cosine("q4_0"), 0.98); }

TEST(QuantizedFixture, F32SelectionIsExact) {
  // --quant f32 converts F16 weights exactly and keeps exact compute: same logits as default.
  const auto dir = testing::fixtures_dir() / "imp-tiny-a";
  EngineOptions options;
  options.quant.vision = options.quant.llm = DType::kF32;
  auto as_f32 = first_logits(*Engine::load(dir, options));
  auto as_stored = first_logits(*Engine::load(dir));
  ASSERT_EQ(as_f32.size(), as_stored.size());
  for (size_t i = 0; i < as_f32.size(); ++i) {
    for (size_t j = 0; j < as_f32[i].second.size(); ++j) {
      ASSERT_NEAR(as_f32[i].second[j], as_stored[i].second[j], 1e-5) << as_f32[i].first;
    }
  }
}

TEST(QuantizedFixture, QuantizedCheckpointLoadsLikeConversionAtLoad) {
  const auto dir = testing::fixtures_dir() / "imp-tiny-a";
  const auto out = std::filesystem::temp_directory_path() / ("lumen-quantize-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  QuantOptions formats;
  formats.llm = DType::kQ8_0;
  formats.vision = DType::kQ8_0;
  const QuantizedCheckpoint written = write_quantized_checkpoint(dir, out, formats);
  EXPECT_EQ(written.weights, out / "model.safetensors");
  EXPECT_TRUE(std::filesystem::exists(out / "config.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "generation_config.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "vocab.json"));
  EXPECT_GT(std::filesystem::file_size(written.weights), written.out_bytes);  // plus the header
  EXPECT_LT(written.out_bytes, written.in_bytes);
  EXPECT_LT(std::filesystem::file_size(out / "model.safetensors"), std::filesystem::file_size(dir / "model.safetensors"));
  auto file = SafetensorsFile::open(out / "model.safetensors");
  EXPECT_EQ(file->find("model.layers.0.mlp.fc1.weight")->dtype, DType::kQ8_0);
  auto original = SafetensorsFile::open(dir / "model.safetensors");
  EXPECT_EQ(file->find("model.layers.0.mlp.fc1.bias")->dtype, original->find("model.layers.0.mlp.fc1.bias")->dtype);
  EXPECT_EQ(file->metadata().at("lumen.quant.llm"), "q8_0");

  EngineOptions options;
  options.quant.vision = options.quant.llm = DType::kQ8_0;
  auto converted = first_logits(*Engine::load(dir, options));
  auto loaded = first_logits(*Engine::load(out));
  ASSERT_EQ(converted.size(), loaded.size());
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_EQ(converted[i].second, loaded[i].second) << loaded[i].first;
  std::filesystem::remove_all(out);
}

}  // namespace
}  // namespace lumen
