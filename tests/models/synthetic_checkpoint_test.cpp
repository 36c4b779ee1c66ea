// Checkpoints that follow Imp's rules with other sizes, dtypes, layouts, file arrangements and
// select layers must work as well as the fixtures. Without a float64 reference for random
// sizes, each test compares two encodings of the same model that must compute the same thing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "lumen/core/error.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "models/synthetic_checkpoint.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using testing::SyntheticImpSpec;

struct ModelRun {
  std::vector<int32_t> tokens;
  std::vector<float> first_logits;
};

ModelRun run_model(const fs::path& dir) {
  auto engine = Engine::load(dir);
  Image image = engine->load_image(testing::images_dir() / "coffee.png");
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.ignore_eos = true;
  options.keep_logits = true;
  std::vector<Image> images = {image, image};
  auto result = generate(*engine, "Look: <image>\nand <image>\nWhat differs?", images, options);
  return {result.tokens, result.first_logits};
}

fs::path make(const std::string& name, const SyntheticImpSpec& spec) {
  fs::path dir = fs::temp_directory_path() / ("lumen_synthetic_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  testing::write_synthetic_imp(dir, spec);
  return dir;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  return worst;
}

class SyntheticCheckpoints : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    fs::remove_all(fs::temp_directory_path() / ("lumen_synthetic_" + std::to_string(::getpid())));
  }
};

TEST_F(SyntheticCheckpoints, Bf16AndF32StorageOfTheSameValuesAgreeExactly) {
  SyntheticImpSpec spec;
  ModelRun f32 = run_model(make("f32", spec));
  spec.dtype = DType::kBF16;
  ModelRun bf16 = run_model(make("bf16", spec));
  EXPECT_EQ(f32.tokens, bf16.tokens);
  EXPECT_EQ(max_abs_diff(f32.first_logits, bf16.first_logits), 0.0);
}

TEST_F(SyntheticCheckpoints, ShardedIndexAndSingleFileAgree) {
  SyntheticImpSpec spec;
  spec.dtype = DType::kF16;
  spec.seed = 2;
  ModelRun single = run_model(make("single", spec));
  spec.sharded = true;
  ModelRun sharded = run_model(make("sharded", spec));
  EXPECT_EQ(single.tokens, sharded.tokens);
  EXPECT_EQ(max_abs_diff(single.first_logits, sharded.first_logits), 0.0);
}

TEST_F(SyntheticCheckpoints, LegacyFusedLayoutMatchesCurrentLayout) {
  SyntheticImpSpec spec;
  spec.seed = 3;
  spec.hidden = 64;
  spec.heads = 4;
  spec.partial_rotary_factor = 0.5;
  ModelRun current = run_model(make("current", spec));
  spec.legacy_layout = true;
  ModelRun legacy = run_model(make("legacy", spec));
  EXPECT_EQ(current.tokens, legacy.tokens);
  EXPECT_EQ(max_abs_diff(current.first_logits, legacy.first_logits), 0.0);
}

TEST_F(SyntheticCheckpoints, GroupedKvHeadsMatchTheEquivalentFullAttention) {
  SyntheticImpSpec spec;
  spec.seed = 4;
  spec.hidden = 48;
  spec.heads = 6;
  spec.kv_heads = 2;
  spec.partial_rotary_factor = 0.5;  // head_dim 8 -> 4 rotary dims
  ModelRun grouped = run_model(make("grouped", spec));
  spec.duplicate_kv_heads_as_mha = true;
  ModelRun full = run_model(make("full", spec));
  EXPECT_EQ(grouped.tokens, full.tokens);
  EXPECT_LE(max_abs_diff(grouped.first_logits, full.first_logits), 1e-4);
}

TEST_F(SyntheticCheckpoints, NegativeAndPositiveSelectLayersAreTheSameCut) {
  SyntheticImpSpec spec;
  spec.seed = 5;
  spec.vision_layers = 4;
  spec.select_layer = -1;  // all 4 layers
  ModelRun negative = run_model(make("select_neg", spec));
  spec.select_layer = 4;
  ModelRun positive = run_model(make("select_pos", spec));
  EXPECT_EQ(negative.tokens, positive.tokens);
  EXPECT_EQ(max_abs_diff(negative.first_logits, positive.first_logits), 0.0);
}

TEST_F(SyntheticCheckpoints, OtherShapesLoadAndGenerate) {
  // Odd sizes everywhere: non-square-friendly image/patch ratio, one head, deep projector.
  SyntheticImpSpec spec;
  spec.seed = 6;
  spec.vision_hidden = 36;
  spec.vision_heads = 1;
  spec.image_size = 45;  // 45 / 7 leaves a remainder the patch conv drops
  spec.patch_size = 7;
  spec.hidden = 30;
  spec.heads = 3;
  spec.kv_heads = 1;
  spec.intermediate = 50;
  spec.layers = 3;
  spec.projector_depth = 3;
  spec.dtype = DType::kF16;
  fs::path dir = make("odd", spec);
  auto engine = Engine::load(dir);
  EXPECT_EQ(engine->model().tokens_per_image(), 36);
  ModelRun run = run_model(dir);
  EXPECT_EQ(run.tokens.size(), 8u);
  EXPECT_EQ(run.first_logits.size(), 51200u);
}

TEST_F(SyntheticCheckpoints, Imp15FamiliesOfOtherShapesLoadAndGenerate) {
  // Phi-3: a KV group of 3 with head_dim 12; Qwen2: 5 query heads sharing one KV head of
  // head_dim 6. Neither head_dim is a power of two; three layers each; stored F16 and BF16.
  struct Shape {
    const char* family;
    int hidden, heads, kv_heads;
    DType dtype;
  };
  for (const Shape& shape : {Shape{"imp_phi3", 72, 6, 2, DType::kBF16}, Shape{"imp_qwen2", 30, 5, 1, DType::kF16}}) {
    SyntheticImpSpec spec;
    spec.family = shape.family;
    spec.seed = 11;
    spec.hidden = shape.hidden;
    spec.heads = shape.heads;
    spec.kv_heads = shape.kv_heads;
    spec.intermediate = 2 * shape.hidden + 6;
    spec.layers = 3;
    spec.dtype = shape.dtype;
    fs::path dir = make(shape.family, spec);
    auto engine = Engine::load(dir);
    const ImpConfig& c = engine->model().config();
    EXPECT_EQ(c.family, shape.family);
    EXPECT_EQ(engine->model().family().decoder.name, std::string(shape.family).substr(4));
    EXPECT_EQ(c.text.rotary_dim, c.text.head_dim()) << "full rotary by default";
    EXPECT_EQ(c.text.num_heads / c.text.num_kv_heads, shape.heads / shape.kv_heads);
    ModelRun run = run_model(dir);
    EXPECT_EQ(run.tokens.size(), 8u) << shape.family;
    ASSERT_EQ(run.first_logits.size(), 51200u);
    EXPECT_TRUE(std::all_of(run.first_logits.begin(), run.first_logits.end(), [](float x) { return std::isfinite(x); }));
    // Storing the same values in F32 computes the same first-step logits (fp32 compute on both).
    spec.dtype = DType::kF32;
    ModelRun f32 = run_model(make(std::string(shape.family) + "_f32", spec));
    EXPECT_EQ(run.tokens, f32.tokens) << shape.family;
    EXPECT_LE(max_abs_diff(run.first_logits, f32.first_logits), 1e-3) << shape.family;
  }
}

TEST_F(SyntheticCheckpoints, LlavaOfOtherShapesLoadAndGenerate) {
  // A CLIP tower of 3 heads of 12 over a 3x3 patch grid (plus the class row: 10 rows per image)
  // and a Llama decoder whose 6 query heads of head_dim 10 share 2 KV heads; stored F16.
  SyntheticImpSpec spec;
  spec.family = "llava";
  spec.seed = 13;
  spec.vision_hidden = 36;
  spec.vision_heads = 3;
  spec.vision_intermediate = 70;
  spec.vision_layers = 4;
  spec.image_size = 30;
  spec.patch_size = 10;
  spec.select_layer = -2;
  spec.hidden = 60;
  spec.heads = 6;
  spec.kv_heads = 2;
  spec.intermediate = 100;
  spec.layers = 3;
  spec.dtype = DType::kF16;
  fs::path dir = make("llava", spec);
  auto engine = Engine::load(dir);
  const ImpConfig& c = engine->model().config();
  EXPECT_EQ(c.family, "llava");
  EXPECT_EQ(engine->model().layout(), WeightLayout::kLlavaHf);
  EXPECT_EQ(engine->model().family().vision.name, std::string("clip"));
  EXPECT_EQ(engine->model().family().decoder.name, std::string("llama"));
  EXPECT_EQ(c.vision_layers_to_run, 3);
  EXPECT_EQ(engine->model().tokens_per_image(), 9) << "class row dropped";
  ModelRun run = run_model(dir);
  EXPECT_EQ(run.tokens.size(), 8u);
  ASSERT_EQ(run.first_logits.size(), 51200u);
  EXPECT_TRUE(std::all_of(run.first_logits.begin(), run.first_logits.end(), [](float x) { return std::isfinite(x); }));

  // The same values in F32 and in transformers' newer nested layout compute the same thing.
  SyntheticImpSpec nested = spec;
  nested.dtype = DType::kF32;
  nested.llava_nested_layout = true;
  fs::path nested_dir = make("llava_nested", nested);
  EXPECT_EQ(Engine::load(nested_dir)->model().layout(), WeightLayout::kLlavaHfNested);
  ModelRun f32 = run_model(nested_dir);
  EXPECT_EQ(run.tokens, f32.tokens);
  EXPECT_LE(max_abs_diff(run.first_logits, f32.first_logits), 1e-3);

  // vision_feature_select_strategy "full" keeps the class row: one more image row.
  SyntheticImpSpec full = spec;
  full.llava_keep_class_feature = true;
  fs::path full_dir = make("llava_full", full);
  EXPECT_EQ(Engine::load(full_dir)->model().tokens_per_image(), 10);
  EXPECT_EQ(run_model(full_dir).tokens.size(), 8u);
}

TEST_F(SyntheticCheckpoints, MisShapedTensorIsNamedAtLoad) {
  SyntheticImpSpec spec;
  fs::path dir = make("misshaped", spec);
  auto config = testing::read_file(dir / "config.json");
  // Claim a wider MLP than the weights have.
  auto pos = config.find("\"intermediate_size\": 72");
  ASSERT_NE(pos, std::string::npos);
  config.replace(pos, std::string("\"intermediate_size\": 72").size(), "\"intermediate_size\": 80");
  std::ofstream(dir / "config.json") << config;
  try {
    Engine::load(dir);
    ADD_FAILURE() << "loaded a checkpoint whose tensors disagree with config.json";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.fc1.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lumen
