// DeviceImpModel (the Imp forward pass over Backend primitives) against the fixtures' float64
// references, on every backend this build and machine have: the CPU backend always (so the
// device-independent model code is checked on any machine), CUDA when a GPU is present (else
// the CUDA cases are skipped with the reason).
//
// Tolerances follow the activation dtype: F32 must give every greedy token (free-running) and
// logits within 2e-3; F16/BF16 are checked teacher-forced (the reference token must be the
// argmax wherever the reference's top-2 gap exceeds twice the logits tolerance) with logits
// and vision tensors within a tolerance scaled to that dtype's rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/linear.h"
#include "lumen/models/imp_device_model.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "lumen/runtime/sampler.h"
#include "test_data.h"

namespace lumen {
namespace {

struct DeviceCase {
  std::string fixture;
  std::string device;  // "cpu" or "cuda"
  DType act;
  nlohmann::json spec;
};

std::vector<DeviceCase> all_cases() {
  std::vector<DeviceCase> cases;
  const std::vector<std::pair<std::string, DType>> modes = {
      {"cpu", DType::kF32}, {"cuda", DType::kF32}, {"cuda", DType::kF16}, {"cuda", DType::kBF16}};
  for (const char* fixture : {"imp-tiny-a", "imp-tiny-b-msft"}) {
    auto ref = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / fixture / "reference.json"));
    for (const auto& [device, act] : modes) {
      for (const auto& c : ref["cases"]) cases.push_back({fixture, device, act, c});
    }
  }
  return cases;
}

double logits_tolerance(DType act) { return act == DType::kF32 ? 2e-3 : act == DType::kF16 ? 0.25 : 1.0; }
double relative_tolerance(DType act) { return act == DType::kF32 ? 1e-5 : act == DType::kF16 ? 1e-2 : 4e-2; }

std::filesystem::path image_path(const std::string& name) {
  auto in_images = testing::images_dir() / name;
  return std::filesystem::exists(in_images) ? in_images : testing::fixtures_dir() / "preprocess" / name;
}

std::vector<float> as_floats(const TensorView& view) {
  std::vector<float> out(static_cast<size_t>(view.numel()));
  std::memcpy(out.data(), view.data, view.nbytes);
  return out;
}

double max_abs_diff(const float* a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= worst)) worst = d;  // NaN wins
  }
  return worst;
}

double relative_error(const float* a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// One backend and one uploaded model per (fixture, device, dtype), shared by the cases.
struct Loaded {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<DeviceImpModel> model;
  std::unique_ptr<SafetensorsFile> reference;
};

class DeviceModelFixture : public ::testing::TestWithParam<DeviceCase> {
 protected:
  void SetUp() override {
    const DeviceCase& c = GetParam();
    if (c.device == "cuda" && !cuda_built()) {
      GTEST_SKIP() << "skipped: no CUDA device (lumen was built without CUDA)";
    }
    if (c.device == "cuda" && cuda_device_count() == 0) {
      GTEST_SKIP() << "skipped: " << cuda_unavailable_reason();
    }
  }
  static Loaded& loaded(const DeviceCase& c) {
    static std::map<std::string, Loaded> all;
    const std::string key = c.fixture + "/" + c.device + "/" + std::string(dtype_name(c.act));
    Loaded& slot = all[key];
    if (!slot.model) {
      slot.engine = Engine::load(testing::fixtures_dir() / c.fixture);
      slot.backend = make_backend(parse_device(c.device));
      DeviceModelOptions options;
      options.activation = c.act;
      slot.model = DeviceImpModel::upload(slot.engine->model(), *slot.backend, options);
      slot.reference = SafetensorsFile::open(testing::fixtures_dir() / c.fixture / "reference.safetensors");
    }
    return slot;
  }
};

TEST_P(DeviceModelFixture, VisionStagesMatchReference) {
  const DeviceCase& c = GetParam();
  Loaded& l = loaded(c);
  ASSERT_EQ(l.model->activation_dtype(), c.act);
  const std::string name = c.spec["name"];
  const auto& images = c.spec["images"];
  const double rel = relative_tolerance(c.act);
  for (size_t j = 0; j < images.size(); ++j) {
    const std::string prefix = name + ".image" + std::to_string(j);
    std::vector<float> pixels = l.engine->preprocess(l.engine->load_image(image_path(images[j])));
    int64_t observed = 0;
    std::vector<float> features;
    std::vector<float> embeds = l.model->encode_images(
        pixels.data(), 1,
        [&](int64_t k, const float* hidden, int64_t rows, int64_t cols) {
          auto expected = as_floats(*l.reference->find(prefix + ".vision_hidden." + std::to_string(k)));
          ASSERT_EQ(static_cast<size_t>(rows * cols), expected.size());
          if (c.act == DType::kF32) {
            EXPECT_LE(max_abs_diff(hidden, expected), 2e-4) << prefix << " vision_hidden." << k;
          } else {
            EXPECT_LE(relative_error(hidden, expected), rel) << prefix << " vision_hidden." << k;
          }
          ++observed;
        },
        &features);
    EXPECT_EQ(observed, static_cast<int64_t>(l.engine->model().vision().layers.size()) + 1);
    auto expected_features = as_floats(*l.reference->find(prefix + ".vision_features"));
    auto expected_embeds = as_floats(*l.reference->find(prefix + ".image_embeds"));
    ASSERT_EQ(features.size(), expected_features.size());
    ASSERT_EQ(embeds.size(), expected_embeds.size());
    if (c.act == DType::kF32) {
      EXPECT_LE(max_abs_diff(features.data(), expected_features), 2e-4) << prefix;
      EXPECT_LE(max_abs_diff(embeds.data(), expected_embeds), 2e-4) << prefix;
    } else {
      EXPECT_LE(relative_error(features.data(), expected_features), rel) << prefix;
      EXPECT_LE(relative_error(embeds.data(), expected_embeds), rel) << prefix;
    }
    // What prompts splice: the same rows, left in the backend's memory.
    const std::vector<ImageEmbedding> kept = l.model->encode_images_to_device(pixels.data(), 1);
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0]->positions, l.engine->model().tokens_per_image());
    EXPECT_EQ(kept[0]->width, l.engine->model().config().text.hidden_size);
    EXPECT_EQ(l.model->download(*kept[0]), embeds) << prefix;
  }
}

TEST_P(DeviceModelFixture, GreedyTokensAndLogitsMatchReference) {
  const DeviceCase& c = GetParam();
  Loaded& l = loaded(c);
  const std::string name = c.spec["name"];
  const Engine& e = *l.engine;
  std::vector<Image> images;
  for (const auto& file : c.spec["images"]) images.push_back(e.load_image(image_path(file)));
  const auto expected_ids = c.spec["generated_ids"].get<std::vector<int32_t>>();
  const auto prompt_ids = e.tokenizer().encode(c.spec["prompt"].get<std::string>());
  ASSERT_EQ(prompt_ids, c.spec["prompt_ids"].get<std::vector<int32_t>>());

  std::vector<float> pixels;
  for (const Image& image : images) {
    std::vector<float> chw = e.preprocess(image);
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  // Encoded, spliced and prefilled without leaving the model's backend, as the runtime does.
  std::vector<ImageEmbedding> image_embeds;
  if (!images.empty()) {
    image_embeds = l.model->encode_images_to_device(pixels.data(), static_cast<int64_t>(images.size()));
  }
  const DeviceBuffer embeds = splice_prompt_embeddings(e.model(), l.model->backend(), prompt_ids, image_embeds);
  const int64_t positions = count_prompt_positions(e, prompt_ids, images.size());
  ASSERT_EQ(positions, c.spec["n_prompt_positions"].get<int64_t>());
  ASSERT_GE(embeds.bytes(), static_cast<size_t>(positions * e.model().config().text.hidden_size) * sizeof(float));

  const int64_t vocab = e.model().config().text.vocab_size;
  KvCache cache = l.model->make_cache(1, positions + static_cast<int64_t>(expected_ids.size()));
  std::vector<float> logits(static_cast<size_t>(vocab)), first, last;
  l.model->prefill(embeds.as<const float>(), positions, cache, 0, logits.data(), nullptr, /*embeds_on_device=*/true);

  const bool strict = c.act == DType::kF32;
  const double tol = logits_tolerance(c.act);
  const auto& topk = c.spec["topk_per_step"];
  std::vector<int32_t> tokens;
  for (size_t step = 0; step < expected_ids.size(); ++step) {
    if (step == 0) first = logits;
    last = logits;
    const int32_t chosen = argmax(logits);
    tokens.push_back(chosen);
    if (!strict) {
      const auto& top = topk[step]["logits"];
      const double gap = top[0].get<double>() - top[1].get<double>();
      if (gap > 2 * tol) {
        EXPECT_EQ(chosen, expected_ids[step]) << name << " step " << step << " (gap " << gap << ")";
      }
    }
    if (step + 1 == expected_ids.size()) break;
    // Free-running in F32; teacher-forced in half precision.
    const int32_t next = strict ? chosen : expected_ids[step];
    l.model->decode(&next, nullptr, 1, cache, logits.data(), nullptr);
  }
  if (strict) {
    EXPECT_EQ(tokens, expected_ids) << name;
  }
  auto ref_first = as_floats(*l.reference->find(name + ".logits_first"));
  auto ref_last = as_floats(*l.reference->find(name + ".logits_last"));
  EXPECT_LE(max_abs_diff(first.data(), ref_first), tol) << name << " first-step logits";
  EXPECT_LE(max_abs_diff(last.data(), ref_last), tol) << name << " last-step logits";
}

std::string case_name(const ::testing::TestParamInfo<DeviceCase>& info) {
  std::string name = info.param.device + "_" + std::string(dtype_name(info.param.act)) + "_" + info.param.fixture +
                     "_" + info.param.spec["name"].get<std::string>();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllCases, DeviceModelFixture, ::testing::ValuesIn(all_cases()), case_name);

// A batch of decode steps gives each sequence what it gets alone (slots are independent), with
// the sequences in slots other than 0..n-1 of a larger cache, as the server's scheduler uses it.
TEST(DeviceModelBatch, BatchedDecodeMatchesSingleSequences) {
  std::vector<std::string> devices = {"cpu"};
  if (cuda_device_count() > 0) devices.push_back("cuda");
  auto engine = Engine::load(testing::fixtures_dir() / "imp-tiny-a");
  for (const std::string& device : devices) {
    auto backend = make_backend(parse_device(device));
    DeviceModelOptions options;
    options.activation = DType::kF32;
    auto model = DeviceImpModel::upload(engine->model(), *backend, options);
    const int64_t vocab = model->config().text.vocab_size, d = model->config().text.hidden_size;
    const std::vector<std::vector<int32_t>> prompts = {{50256, 464, 3290}, {15496, 11, 995, 0, 314}, {40}};
    // Together: each slot prefilled, then three batched steps.
    KvCache batch_cache = model->make_cache(5, 16);
    const std::vector<int32_t> slots = {4, 1, 2};
    std::vector<int32_t> next(3);
    std::vector<float> logits(static_cast<size_t>(vocab));
    for (size_t s = 0; s < prompts.size(); ++s) {
      std::vector<float> embeds(prompts[s].size() * static_cast<size_t>(d));
      engine->model().decoder().embed(prompts[s].data(), static_cast<int64_t>(prompts[s].size()), embeds.data());
      model->prefill(embeds.data(), static_cast<int64_t>(prompts[s].size()), batch_cache, slots[s], logits.data());
      next[s] = argmax(logits);
    }
    std::vector<std::vector<int32_t>> together(3);
    std::vector<float> batch_logits(static_cast<size_t>(3 * vocab));
    for (int step = 0; step < 3; ++step) {
      std::vector<int32_t> ids(3);
      model->decode(next.data(), slots.data(), 3, batch_cache, batch_logits.data(), ids.data());
      for (int s = 0; s < 3; ++s) {
        EXPECT_EQ(ids[s], argmax(std::span<const float>(batch_logits.data() + s * vocab, vocab))) << device;
        together[s].push_back(ids[s]);
      }
      next = ids;
    }
    // Alone.
    for (size_t s = 0; s < prompts.size(); ++s) {
      KvCache cache = model->make_cache(1, 16);
      std::vector<float> embeds(prompts[s].size() * static_cast<size_t>(d));
      engine->model().decoder().embed(prompts[s].data(), static_cast<int64_t>(prompts[s].size()), embeds.data());
      model->prefill(embeds.data(), static_cast<int64_t>(prompts[s].size()), cache, 0, logits.data());
      int32_t token = argmax(logits);
      std::vector<int32_t> alone;
      for (int step = 0; step < 3; ++step) {
        int32_t out = 0;
        model->decode(&token, nullptr, 1, cache, nullptr, &out);
        alone.push_back(out);
        token = out;
      }
      EXPECT_EQ(alone, together[s]) << device << " slot " << s;
      EXPECT_EQ(batch_cache.length(slots[s]), static_cast<int64_t>(prompts[s].size()) + 3) << device;
    }
    EXPECT_EQ(batch_cache.length(0), 0) << device;
    EXPECT_EQ(batch_cache.length(3), 0) << device;
  }
}

// The decoder observer sees every layer's named intermediates during prefill, and the last
// layer's output, through the final LayerNorm and lm_head computed here on the host, gives the
// logits prefill returns.
TEST(DeviceModelObserver, DecoderStatesLeadToTheLogits) {
  auto engine = Engine::load(testing::fixtures_dir() / "imp-tiny-a");
  DeviceImpModel& model = engine->device_model();
  const HostDecoder& decoder = engine->model().decoder();
  const int64_t layers = engine->model().config().text.num_layers, d = decoder.geometry.hidden;
  std::map<std::string, int64_t> seen;
  std::vector<float> last_output;
  model.set_decoder_observer([&](std::string_view name, int64_t layer, const float* rows, int64_t n, int64_t width) {
    seen[std::string(name)] += 1;
    EXPECT_EQ(n, 3);
    if (name == "output" && layer == layers - 1) last_output.assign(rows + (n - 1) * width, rows + n * width);
  });
  const std::vector<int32_t> prompt = {50256, 464, 3290};
  std::vector<float> embeds(prompt.size() * static_cast<size_t>(d));
  decoder.embed(prompt.data(), 3, embeds.data());
  KvCache cache = model.make_cache(1, 8);
  std::vector<float> logits(static_cast<size_t>(decoder.vocab_size));
  model.prefill(embeds.data(), 3, cache, 0, logits.data());
  model.set_decoder_observer({});
  EXPECT_EQ(seen["embeddings"], 1);
  for (const char* name : {"norm1", "attention", "mlp", "output"}) EXPECT_EQ(seen[name], layers) << name;
  ASSERT_EQ(static_cast<int64_t>(last_output.size()), d);
  std::vector<float> normed(static_cast<size_t>(d)), expected(logits.size());
  const LayerNormWeights& ln = decoder.final_norm.weights;
  layer_norm(last_output.data(), 1, d, ln.gamma.data(), ln.beta.data(), ln.eps, normed.data());
  linear_reference(normed.data(), 1, decoder.lm_head.weight,
                   decoder.lm_head.bias.empty() ? nullptr : decoder.lm_head.bias.data(), expected.data());
  EXPECT_LE(max_abs_diff(logits.data(), expected), 1e-4);
}

// The fixture parity test of imp_fixture_test, through Engine and generate() on --device cuda
// (F32 activations): every greedy token and the first/last logits.
TEST(DeviceEngine, GenerateOnCudaMatchesReference) {
  if (!cuda_built()) {
    GTEST_SKIP() << "skipped: no CUDA device (lumen was built without CUDA)";
  }
  if (cuda_device_count() == 0) {
    GTEST_SKIP() << "skipped: " << cuda_unavailable_reason();
  }
  for (const char* fixture : {"imp-tiny-a", "imp-tiny-b-msft"}) {
    EngineOptions options;
    options.device = "cuda";
    options.device_activation = DType::kF32;
    auto engine = Engine::load(testing::fixtures_dir() / fixture, options);
    ASSERT_NE(engine->backend().name().find("cuda"), std::string::npos);
    auto reference = SafetensorsFile::open(testing::fixtures_dir() / fixture / "reference.safetensors");
    auto ref = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / fixture / "reference.json"));
    for (const auto& c : ref["cases"]) {
      const std::string name = c["name"];
      std::vector<Image> images;
      for (const auto& file : c["images"]) images.push_back(engine->load_image(image_path(file)));
      const auto expected_ids = c["generated_ids"].get<std::vector<int32_t>>();
      GenerationOptions generation;
      generation.max_new_tokens = static_cast<int64_t>(expected_ids.size());
      generation.ignore_eos = true;
      generation.keep_logits = true;
      GenerationResult result = generate(*engine, c["prompt"].get<std::string>(), images, generation);
      EXPECT_EQ(result.tokens, expected_ids) << fixture << " " << name;
      EXPECT_LE(max_abs_diff(result.first_logits.data(), as_floats(*reference->find(name + ".logits_first"))), 2e-3)
          << fixture << " " << name;
      EXPECT_LE(max_abs_diff(result.last_logits.data(), as_floats(*reference->find(name + ".logits_last"))), 2e-3)
          << fixture << " " << name;
    }
  }
}

TEST(DeviceEngine, RefusesDevicesItCannotUse) {
  EngineOptions options;
  options.device = "tpu";
  EXPECT_THROW(Engine::load(testing::fixtures_dir() / "imp-tiny-a", options), Error);
  options.device = "cuda:99";
  try {
    Engine::load(testing::fixtures_dir() / "imp-tiny-a", options);
    FAIL() << "cuda:99 was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.find("built without CUDA") != std::string::npos ||
                message.find("no CUDA device") != std::string::npos ||
                message.find("no such CUDA device") != std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace lumen
