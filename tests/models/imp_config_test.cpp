#include "lumen/models/imp_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "test_data.h"

namespace lumen {
namespace {

TEST(ImpConfig, RealImpV1ConfigGetsPhi2Defaults) {
  ImpConfig c = parse_imp_config(testing::read_file(testing::fixtures_dir() / "imp-v1-3b.config.json"));
  EXPECT_EQ(c.text.hidden_size, 2560);
  EXPECT_EQ(c.text.num_layers, 32);
  EXPECT_EQ(c.text.num_heads, 32);
  EXPECT_EQ(c.text.num_kv_heads, 32);
  EXPECT_EQ(c.text.intermediate_size, 10240);
  EXPECT_EQ(c.text.rotary_dim, 32);
  EXPECT_EQ(c.text.head_dim(), 80);
  EXPECT_DOUBLE_EQ(c.text.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.text.vocab_size, 51200);
  EXPECT_EQ(c.text.max_positions, 3072);
  EXPECT_EQ(c.text.activation, Activation::kGeluTanh);
  EXPECT_EQ(c.vision.hidden_size, 1152);
  EXPECT_EQ(c.vision.num_layers, 27);
  EXPECT_EQ(c.vision_layers_to_run, 26);
  EXPECT_EQ(c.vision.num_patches(), 729);
  EXPECT_EQ(c.projector_depth, 2);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{50295});
  EXPECT_EQ(c.image_token_id, 50296);
  EXPECT_EQ(c.image_aspect, ImageAspect::kSquare);
  // Every key of the real config is either read or known to be irrelevant to inference.
  EXPECT_EQ(c.unrecognised_keys, std::vector<std::string>{});
}

// The real Imp-v1-3b config with one key changed.
nlohmann::json real_config_with(const char* key, const nlohmann::json& value) {
  auto config = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / "imp-v1-3b.config.json"));
  config[key] = value;
  return config;
}

std::string refusal(const nlohmann::json& config) {
  try {
    parse_imp_config(config.dump());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Each key that would change the computation in a way Lumen does not implement is refused at
// load with one line that names the key and its value; its neutral value loads.
TEST(ImpConfig, RefusesKeysItDoesNotImplement) {
  struct Case {
    const char* key;
    nlohmann::json bad, neutral;
    const char* value_shown;
  };
  const Case cases[] = {
      {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}, nullptr, R"({"factor":2.0,"type":"linear"})"},
      {"qk_layernorm", true, false, "true"},
      {"mm_use_im_start_end", true, false, "true"},
      {"mm_use_im_patch_token", true, false, "true"},
      {"mm_patch_merge_type", "spatial_unpad", "flat", "\"spatial_unpad\""},
      {"image_aspect_ratio", "anyres", "square", "\"anyres\""},
      {"tie_word_embeddings", true, false, "true"},
      {"use_mm_proj", false, true, "false"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    const std::string message = refusal(real_config_with(c.key, c.bad));
    EXPECT_NE(message.find(c.key), std::string::npos) << message;
    EXPECT_NE(message.find(c.value_shown), std::string::npos) << message;
    EXPECT_NE(message.find("not supported"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    EXPECT_EQ(refusal(real_config_with(c.key, c.neutral)), "");
  }
  // A truthy value of the wrong type is refused too, rather than read as false.
  EXPECT_NE(refusal(real_config_with("qk_layernorm", "yes")).find("qk_layernorm"), std::string::npos);
  // Every key the policy lists as refused has a case above (image_aspect_ratio is read: its
  // unsupported values are refused while parsing it).
  for (const std::string& key : imp_config_key_policy().refused) {
    EXPECT_TRUE(std::any_of(std::begin(cases), std::end(cases), [&](const Case& c) { return key == c.key; })) << key;
  }
}

TEST(ImpConfig, ImageAspectPadAndUnknownKeys) {
  EXPECT_EQ(parse_imp_config(real_config_with("image_aspect_ratio", "pad").dump()).image_aspect, ImageAspect::kPad);
  auto config = real_config_with("my_new_key", 3);
  config["vision_tower_config"]["another_key"] = true;
  const ImpConfig c = parse_imp_config(config.dump());
  EXPECT_EQ(c.unrecognised_keys, (std::vector<std::string>{"my_new_key", "vision_tower_config.another_key"}));
}

TEST(ImpConfig, LegacyKeysParse) {
  ImpConfig c = load_imp_config(testing::fixtures_dir() / "imp-tiny-b-msft");
  EXPECT_EQ(c.text.hidden_size, 16);
  EXPECT_EQ(c.text.num_layers, 2);
  EXPECT_EQ(c.text.num_heads, 2);
  EXPECT_EQ(c.text.num_kv_heads, 2);  // n_head_kv: null
  EXPECT_EQ(c.text.intermediate_size, 64);
  EXPECT_EQ(c.text.rotary_dim, 4);
  EXPECT_EQ(c.vision_layers_to_run, 2);
}

TEST(ImpConfig, CurrentKeysParse) {
  ImpConfig c = load_imp_config(testing::fixtures_dir() / "imp-tiny-a");
  EXPECT_EQ(c.text.rotary_dim, 8);  // 0.5 of head_dim 16
  EXPECT_EQ(c.vision_layers_to_run, 3);
}

std::string with(const std::string& base, const std::string& key, const std::string& value) {
  auto j = nlohmann::json::parse(base);
  j[key] = nlohmann::json::parse(value);
  return j.dump();
}

TEST(ImpConfig, RejectsBadConfigsWithClearErrors) {
  const std::string base = testing::read_file(testing::fixtures_dir() / "imp-tiny-a" / "config.json");
  auto expect_error = [](const std::string& text, const std::string& fragment) {
    try {
      parse_imp_config(text);
      ADD_FAILURE() << "accepted config, expected error containing: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(with(base, "hidden_size", "1000000000"), "hidden_size");
  expect_error(with(base, "hidden_size", "-4"), "hidden_size");
  expect_error(with(base, "num_hidden_layers", "0"), "num_hidden_layers");
  expect_error(with(base, "mm_vision_select_layer", "-9"), "mm_vision_select_layer");
  expect_error(with(base, "mm_vision_select_layer", "7"), "mm_vision_select_layer");
  expect_error(with(base, "mm_projector_type", "\"qformer\""), "unsupported projector");
  expect_error(with(with(base, "model_type", "\"llama\""), "architectures", "[\"LlamaForCausalLM\"]"),
               "unsupported architecture");
  expect_error(with(base, "hidden_size", "\"64\""), "hidden_size");
  expect_error("{not json", "invalid JSON");
}

// The Imp-v1.5 fixtures' configs (real keys, tiny sizes): the family, RMSNorm's eps, full rotary
// by default, the window cap, and every key either read or known to be irrelevant.
TEST(ImpConfig, ImageSizeComesFromTheVisionTowerConfig) {
  // Imp-v1.5-3B-196: SigLIP at 196 px gives a 14 x 14 grid (196 image tokens, 196 positions).
  auto config = real_config_with("mm_vision_select_layer", -2);
  config["vision_tower_config"]["image_size"] = 196;
  const ImpConfig c = parse_imp_config(config.dump());
  EXPECT_EQ(c.vision.patches_per_side(), 14);
  EXPECT_EQ(c.tokens_per_image(), 196);
  EXPECT_EQ(c.image_processor.resize, ImageProcessorConfig::Resize::kSquash);
}

TEST(ImpConfig, Imp15FamiliesParse) {
  const ImpConfig phi3 = load_imp_config(testing::fixtures_dir() / "imp-tiny-phi3");
  EXPECT_EQ(phi3.family, "imp_phi3");
  EXPECT_EQ(phi3.text.activation, Activation::kSilu);  // hidden_act wins over the leftover activation_function
  EXPECT_DOUBLE_EQ(phi3.text.layer_norm_eps, 1e-5);
  EXPECT_EQ(phi3.text.rotary_dim, phi3.text.head_dim());
  EXPECT_EQ(phi3.text.sliding_window, 2047);
  EXPECT_EQ(phi3.text.max_positions, 2047);  // 4096 capped at the window
  EXPECT_EQ(phi3.eos_token_ids, (std::vector<int32_t>{32000, 32001, 32007}));  // generation_config.json's list
  EXPECT_EQ(phi3.unrecognised_keys, std::vector<std::string>{});

  const ImpConfig qwen2 = load_imp_config(testing::fixtures_dir() / "imp-tiny-qwen2");
  EXPECT_EQ(qwen2.family, "imp_qwen2");
  EXPECT_DOUBLE_EQ(qwen2.text.layer_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(qwen2.text.rope_theta, 1e6);
  EXPECT_EQ(qwen2.text.sliding_window, 0) << "use_sliding_window: false";
  EXPECT_EQ(qwen2.text.max_positions, 32768);
  EXPECT_EQ(qwen2.unrecognised_keys, std::vector<std::string>{});

  // Without image_token_index, each family's own <image> id.
  auto config = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / "imp-tiny-phi3" / "config.json"));
  config.erase("image_token_index");
  EXPECT_EQ(parse_imp_config(config.dump()).image_token_id, 32011);
  config["model_type"] = "imp_qwen2";
  config["architectures"] = {"ImpQwen2ForCausalLM"};
  EXPECT_EQ(parse_imp_config(config.dump()).image_token_id, 151646);

  // An unknown family names every supported one.
  config["model_type"] = "imp_gemma";
  config["architectures"] = {"ImpGemmaForCausalLM"};
  try {
    parse_imp_config(config.dump());
    ADD_FAILURE() << "an unknown family loaded";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const char* name : {"imp_gemma", "\"imp\"", "\"imp_phi3\"", "\"imp_qwen2\""}) {
      EXPECT_NE(message.find(name), std::string::npos) << name << " in: " << message;
    }
  }
}

}  // namespace
}  // namespace lumen
