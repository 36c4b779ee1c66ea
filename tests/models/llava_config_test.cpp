// LLaVA's nested config.json and CLIPImageProcessor's preprocessor_config.json: the llava-tiny
// fixture's values, transformers' defaults for absent keys (LlavaConfig, CLIPVisionConfig,
// LlamaConfig), and a clear refusal of each setting Lumen does not implement.
#include "lumen/models/llava_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "lumen/core/error.h"
#include "lumen/models/imp_config.h"
#include "test_data.h"

namespace lumen {
namespace {

nlohmann::json tiny_config() {
  return nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / "llava-tiny" / "config.json"));
}

// The Error message parsing `config` raises, or "" when it parses.
std::string refusal(const nlohmann::json& config) {
  try {
    parse_imp_config(config.dump(), "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LlavaConfig, TinyFixtureParsesAsLlava15) {
  const ImpConfig c = load_imp_config(testing::fixtures_dir() / "llava-tiny");
  EXPECT_EQ(c.family, "llava");
  EXPECT_TRUE(c.prompt_expands_images);
  EXPECT_EQ(c.image_token_id, 32000);
  EXPECT_EQ(c.pad_token_id, 32001);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{2});
  // CLIP: class token, no patch bias, pre_layrnorm, quick_gelu and eps 1e-5 by default.
  EXPECT_TRUE(c.vision.class_token);
  EXPECT_FALSE(c.vision.patch_bias);
  EXPECT_TRUE(c.vision.pre_layernorm);
  EXPECT_EQ(c.vision.activation, Activation::kQuickGelu);
  EXPECT_DOUBLE_EQ(c.vision.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.vision.sequence_length(), 17);
  EXPECT_EQ(c.vision_layers_to_run, 2) << "vision_feature_layer -2 of 3 layers";
  EXPECT_EQ(c.tokens_per_image(), 16) << "strategy default drops the class row";
  EXPECT_TRUE(c.projector_bias);
  EXPECT_EQ(c.projector_depth, 2);
  // Llama: RMSNorm eps from the file, rope_theta 10000 and silu by default, full rotary.
  EXPECT_EQ(c.text.hidden_size, 32);
  EXPECT_EQ(c.text.num_layers, 2);
  EXPECT_EQ(c.text.vocab_size, 32064);
  EXPECT_DOUBLE_EQ(c.text.layer_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 10000.0);
  EXPECT_EQ(c.text.activation, Activation::kSilu);
  EXPECT_EQ(c.text.rotary_dim, c.text.head_dim());
  EXPECT_EQ(c.text.max_positions, 4096);
  // preprocessor_config.json.
  EXPECT_EQ(c.image_processor.resize, ImageProcessorConfig::Resize::kShortestEdgeCrop);
  EXPECT_EQ(c.image_processor.shortest_edge, 56);
  EXPECT_EQ(c.image_processor.crop_width, 56);
  EXPECT_EQ(c.image_processor.crop_height, 56);
  EXPECT_FLOAT_EQ(c.image_processor.mean[0], 0.48145466f);
  EXPECT_FLOAT_EQ(c.image_processor.std[2], 0.27577711f);
  EXPECT_EQ(c.unrecognised_keys, std::vector<std::string>{});
}

TEST(LlavaConfig, AbsentPartsTakeLlava15SevenBDefaults) {
  // llava-hf/llava-1.5-7b-hf's config.json names only what differs from the class defaults.
  const ImpConfig c = parse_imp_config(R"({"model_type": "llava", "text_config": {"model_type": "llama",
      "rms_norm_eps": 1e-05, "vocab_size": 32064, "max_position_embeddings": 4096}})");
  EXPECT_EQ(c.vision.hidden_size, 1024);
  EXPECT_EQ(c.vision.num_layers, 24);
  EXPECT_EQ(c.vision.image_size, 336);
  EXPECT_EQ(c.vision.patch_size, 14);
  EXPECT_EQ(c.vision_layers_to_run, 23);
  EXPECT_EQ(c.tokens_per_image(), 576);
  EXPECT_EQ(c.text.hidden_size, 4096);
  EXPECT_EQ(c.text.intermediate_size, 11008);
  EXPECT_EQ(c.text.num_layers, 32);
  EXPECT_EQ(c.text.num_kv_heads, 32);
  EXPECT_EQ(c.image_processor.shortest_edge, 336) << "LLaVA's processor without preprocessor_config.json";
  // A vision_config that is given takes CLIPVisionConfig's defaults (ViT-B/32) for its gaps.
  const ImpConfig b32 = parse_imp_config(R"({"model_type": "llava", "vision_config": {}})");
  EXPECT_EQ(b32.vision.hidden_size, 768);
  EXPECT_EQ(b32.vision.patch_size, 32);
  EXPECT_EQ(b32.tokens_per_image(), 49);
}

TEST(LlavaConfig, RefusesWhatLumenDoesNotImplementByName) {
  struct Case {
    const char* pointer;
    nlohmann::json value;
    const char* named;
  };
  const Case cases[] = {
      {"/vision_feature_layer", {-2, -5}, "vision_feature_layer"},
      {"/vision_feature_layer", 7, "vision_feature_layer"},
      {"/vision_feature_layer", 0, "vision_feature_layer"},  // found by fuzz_imp_config
      {"/vision_feature_layer", -4, "vision_feature_layer"},
      {"/vision_feature_select_strategy", "cls", "vision_feature_select_strategy"},
      {"/projector_hidden_act", "relu", "projector_hidden_act"},
      {"/tie_word_embeddings", true, "tie_word_embeddings"},
      {"/text_config/attention_bias", true, "attention_bias"},
      {"/text_config/mlp_bias", true, "mlp_bias"},
      {"/text_config/rope_scaling", {{"type", "linear"}, {"factor", 2.0}}, "rope_scaling"},
      {"/text_config/model_type", "mistral", "mistral"},
      {"/text_config/head_dim", 16, "head_dim"},
      {"/vision_config/model_type", "siglip_vision_model", "siglip_vision_model"},
      {"/image_seq_length", 576, "image_seq_length"},
  };
  for (const Case& c : cases) {
    nlohmann::json config = tiny_config();
    config[nlohmann::json::json_pointer(c.pointer)] = c.value;
    const std::string message = refusal(config);
    EXPECT_NE(message.find(c.named), std::string::npos) << c.pointer << ": " << message;
  }
  EXPECT_EQ(refusal(tiny_config()), "");
}

TEST(LlavaConfig, UnknownKeysAreListedWithTheirPart) {
  nlohmann::json config = tiny_config();
  config["text_config"]["new_knob"] = 1;
  config["vision_config"]["other_knob"] = 2;
  const ImpConfig c = parse_imp_config(config.dump());
  EXPECT_EQ(c.unrecognised_keys, (std::vector<std::string>{"vision_config.other_knob", "text_config.new_knob"}));
}

TEST(LlavaConfig, ImageProcessorSettingsOutsideClipsAreRefused) {
  const ImpConfig base = parse_imp_config(tiny_config().dump());
  auto processor = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / "llava-tiny" / "preprocessor_config.json"));
  struct Case {
    const char* pointer;
    nlohmann::json value;
    const char* named;
  };
  const Case cases[] = {
      {"/resample", 2, "resample"},
      {"/crop_size", {{"height", 48}, {"width", 48}}, "crop_size"},
      {"/size", {{"height", 56}, {"width", 56}}, "size"},
      {"/do_center_crop", false, "do_center_crop"},
      {"/rescale_factor", 0.5, "rescale_factor"},
      {"/image_std", {0.5, 0.0, 0.5}, "image_std"},
      {"/image_mean", {0.5, 0.5}, "image_mean"},
      {"/image_processor_type", "SiglipImageProcessor", "SiglipImageProcessor"},
  };
  for (const Case& c : cases) {
    nlohmann::json p = processor;
    p[nlohmann::json::json_pointer(c.pointer)] = c.value;
    ImpConfig config = base;
    try {
      parse_clip_image_processor(p, "preprocessor_config.json", &config);
      ADD_FAILURE() << c.pointer << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.named), std::string::npos) << c.pointer << ": " << e.what();
    }
  }
  // A larger shortest edge than the crop is CLIP's usual setting (224 -> crop 224 after 256 in
  // some checkpoints): accepted.
  nlohmann::json wider = processor;
  wider["size"] = {{"shortest_edge", 64}};
  ImpConfig config = base;
  parse_clip_image_processor(wider, "preprocessor_config.json", &config);
  EXPECT_EQ(config.image_processor.shortest_edge, 64);
  // do_normalize false leaves the rescaled values as they are.
  nlohmann::json plain = processor;
  plain["do_normalize"] = false;
  parse_clip_image_processor(plain, "preprocessor_config.json", &config);
  EXPECT_EQ(config.image_processor.mean, (std::array<float, 3>{0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(config.image_processor.std, (std::array<float, 3>{1.0f, 1.0f, 1.0f}));
}

TEST(LlavaConfig, KeyPolicyCoversEveryKeyOfTheFixture) {
  const ConfigKeyPolicy& policy = llava_config_key_policy();
  auto known = [&](const std::string& key) {
    for (const auto* list : {&policy.read, &policy.ignored, &policy.refused}) {
      if (std::find(list->begin(), list->end(), key) != list->end()) return true;
    }
    return false;
  };
  const nlohmann::json config = tiny_config();
  for (const auto& [key, value] : config.items()) {
    EXPECT_TRUE(known(key)) << key;
    if (key == "vision_config" || key == "text_config") {
      for (const auto& [inner, v] : value.items()) EXPECT_TRUE(known(key + "." + inner)) << key << "." << inner;
    }
  }
}

}  // namespace
}  // namespace lumen
