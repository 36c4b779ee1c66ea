// Hostile config.json files: absurd, zero and negative sizes and out-of-range select layers are
// refused by parse_imp_config (and so by every command) before any tensor is sized from them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "hostile_files.h"
#include "lumen/models/imp_config.h"

namespace lumen::hardening {
namespace {

// The bundled config with one key replaced (a "/" in the key reaches into vision_tower_config).
std::string bundled_with(const std::string& key, const nlohmann::json& value) {
  auto config = nlohmann::json::parse(testing::read_file(testing::bundled_model_dir() / "config.json"));
  if (auto slash = key.find('/'); slash != std::string::npos) {
    config[key.substr(0, slash)][key.substr(slash + 1)] = value;
  } else {
    config[key] = value;
  }
  return config.dump();
}

void expect_refused(const std::string& key, const nlohmann::json& value, const std::string& message) {
  SCOPED_TRACE(key + " = " + value.dump());
  expect_error([&] { parse_imp_config(bundled_with(key, value)); }, ErrorKind::kInvalidInput, {message});
}

TEST(HostileConfig, AbsurdSizes) {
  expect_refused("hidden_size", 1000000000, "config.json: 'hidden_size' = 1000000000 is out of range [1, 65536]");
  expect_refused("intermediate_size", int64_t{1} << 40, "'intermediate_size' = 1099511627776 is out of range [1, 262144]");
  expect_refused("vocab_size", 1000000000, "'vocab_size' = 1000000000 is out of range [1, 4194304]");
  expect_refused("max_position_embeddings", int64_t{1} << 31, "'max_position_embeddings' = 2147483648 is out of range");
  expect_refused("num_hidden_layers", 100000, "'num_hidden_layers' = 100000 is out of range [1, 1024]");
  expect_refused("vision_tower_config/image_size", 1000000, "vision_tower_config: 'image_size' = 1000000 is out of range [1, 4096]");
  expect_refused("hidden_size", 18446744073709551615ull, "'hidden_size' = 18446744073709551615 is out of range");
}

TEST(HostileConfig, ZeroAndNegativeSizes) {
  expect_refused("hidden_size", 0, "'hidden_size' = 0 is out of range [1, 65536]");
  expect_refused("hidden_size", -4, "'hidden_size' = -4 is out of range [1, 65536]");
  expect_refused("num_attention_heads", 0, "'num_attention_heads' = 0 is out of range");
  expect_refused("num_hidden_layers", 0, "'num_hidden_layers' = 0 is out of range");
  expect_refused("vision_tower_config/patch_size", -14, "'patch_size' = -14 is out of range");
  expect_refused("vision_tower_config/hidden_size", 0, "vision_tower_config: 'hidden_size' = 0 is out of range");
  expect_refused("layer_norm_eps", -1.0, "layer_norm_eps and rope_theta must be positive");
  expect_refused("hidden_size", 95, "hidden_size 95 is not divisible by num_attention_heads 3");
}

TEST(HostileConfig, SizesOfTheWrongType) {
  expect_refused("hidden_size", "96", "'hidden_size' must be an integer");
  expect_refused("hidden_size", 96.5, "'hidden_size' must be an integer");
  expect_refused("eos_token_id", "</s>", "'eos_token_id' must be a token id or a list of token ids");
}

TEST(HostileConfig, SelectLayerOutOfRange) {
  // The tower has 5 layers: -5 .. -1 and 1 .. 5 select one of its outputs, nothing else does.
  expect_refused("mm_vision_select_layer", -7, "mm_vision_select_layer -7 is out of range for a tower of 5 layers");
  expect_refused("mm_vision_select_layer", 6, "mm_vision_select_layer 6 is out of range for a tower of 5 layers");
  expect_refused("mm_vision_select_layer", 0, "mm_vision_select_layer 0 is out of range");
  expect_refused("mm_vision_select_layer", int64_t{1} << 40, "'mm_vision_select_layer' = 1099511627776 is out of range");
  expect_refused("mm_vision_select_layer", -6, "mm_vision_select_layer -6 is out of range for a tower of 5 layers");
  EXPECT_EQ(parse_imp_config(bundled_with("mm_vision_select_layer", -5)).vision_layers_to_run, 1);
  EXPECT_EQ(parse_imp_config(bundled_with("mm_vision_select_layer", 5)).vision_layers_to_run, 5);
}

TEST(HostileConfig, NotAConfigAtAll) {
  expect_error([] { parse_imp_config(""); }, ErrorKind::kInvalidInput, {"config.json: invalid JSON"});
  expect_error([] { parse_imp_config("[1, 2]"); }, ErrorKind::kInvalidInput, {"config.json: expected a JSON object"});
  expect_error([] { parse_imp_config(std::string(100000, '[')); }, ErrorKind::kInvalidInput, {"invalid JSON"});
}

TEST(HostileConfig, CliNamesTheProblem) {
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"config.json"});
  std::ofstream(model / "config.json") << bundled_with("hidden_size", 1000000000);
  auto r = testing::run_cli({"info", "-m", model.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "lumen: error: " + (model / "config.json").string() +
                       ": 'hidden_size' = 1000000000 is out of range [1, 65536]\n");
}

}  // namespace
}  // namespace lumen::hardening
