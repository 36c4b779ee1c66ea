// Hostile checkpoints: every malformed safetensors file, index or shard layout is refused when
// the model loads, with an Error naming the file and the problem, without reading outside the
// file or allocating what the header claims. See docs/hardening.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hostile_files.h"
#include "lumen/formats/checkpoint.h"
#include "lumen/formats/safetensors.h"
#include "lumen/runtime/engine.h"

namespace lumen::hardening {
namespace {

const std::string kTwoFloats = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

TEST(HostileCheckpoint, FileShorterThanTheLengthPrefix) {
  ScratchDir dir;
  const fs::path path = dir.write("model.safetensors", "abc");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput,
               {path.string(), "too small to be a safetensors file (3 bytes)"});
}

TEST(HostileCheckpoint, HeaderLengthBeyondTheFile) {
  ScratchDir dir;
  const fs::path path = dir.write("model.safetensors", safetensors_bytes(kTwoFloats, std::string(8, '\0'), 1000));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput,
               {path.string(), "safetensors header length 1000 runs past the end of the file (70 bytes)"});
  // A length near 2^64 must not wrap around in the bounds check.
  const fs::path wrap = dir.write("wrap.safetensors", safetensors_bytes(kTwoFloats, "", UINT64_MAX - 3));
  expect_error([&] { SafetensorsFile::open(wrap); }, ErrorKind::kInvalidInput, {"runs past the end of the file"});
}

TEST(HostileCheckpoint, HundredMegabyteHeaderIsRefusedBeforeParsing) {
  ScratchDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string prefix = safetensors_bytes("", "", 100'000'000);
    out.write(prefix.data(), 8);
  }
  fs::resize_file(path, 8 + 100'000'000 + 64);  // sparse: nothing is written or read
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kLimitExceeded,
               {path.string(), "safetensors header of 100000000 bytes exceeds the limit of 67108864"});
  // The limit is configurable.
  const fs::path small = dir.write("small.safetensors", safetensors_bytes(kTwoFloats, std::string(8, '\0')));
  SafetensorsLimits limits;
  limits.max_header_bytes = 16;
  expect_error([&] { SafetensorsFile::open(small, limits); }, ErrorKind::kLimitExceeded,
               {"header of 54 bytes exceeds the limit of 16"});
}

TEST(HostileCheckpoint, HeaderThatIsNotJson) {
  ScratchDir dir;
  const fs::path path = dir.write("model.safetensors", safetensors_bytes("{\"a\": [1, 2", ""));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput,
               {"safetensors header is not a JSON object"});
}

TEST(HostileCheckpoint, OffsetsOutOfRange) {
  ScratchDir dir;
  const fs::path path = dir.write(
      "model.safetensors",
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput,
               {"tensor 'w' data offsets [0, 16) fall outside the file's data section of 8 bytes"});
  const fs::path reversed = dir.write(
      "reversed.safetensors",
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0')));
  expect_error([&] { SafetensorsFile::open(reversed); }, ErrorKind::kInvalidInput, {"data offsets [8, 0)"});
  const fs::path negative = dir.write(
      "negative.safetensors",
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", std::string(8, '\0')));
  expect_error([&] { SafetensorsFile::open(negative); }, ErrorKind::kInvalidInput,
               {"tensor 'w' has a negative or non-integer data offset"});
}

TEST(HostileCheckpoint, OverlappingTensors) {
  ScratchDir dir;
  const fs::path path = dir.write(
      "model.safetensors",
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        std::string(16, '\0')));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput, {"tensors 'a' and 'b' overlap"});
}

TEST(HostileCheckpoint, SizeNotMatchingDtypeTimesShape) {
  ScratchDir dir;
  const fs::path path = dir.write(
      "model.safetensors",
      safetensors_bytes(R"({"w":{"dtype":"F16","shape":[3, 5],"data_offsets":[0,16]}})", std::string(16, '\0')));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorKind::kInvalidInput,
               {"tensor 'w' holds 16 bytes but dtype F16 x shape [3, 5] needs 30"});
}

TEST(HostileCheckpoint, ImpossibleShapesAndDtypes) {
  ScratchDir dir;
  auto open_with = [&](const std::string& entry) {
    const fs::path path = dir.write("model.safetensors", safetensors_bytes("{\"w\":" + entry + "}", std::string(8, '\0')));
    SafetensorsFile::open(path);
  };
  // 2^62 x 2^62 elements: the element count must not overflow into something small.
  expect_error([&] { open_with(R"({"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]})"); },
               ErrorKind::kInvalidInput, {"tensor 'w' is impossibly large"});
  expect_error([&] { open_with(R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]})"); }, ErrorKind::kInvalidInput,
               {"tensor 'w' has a negative or non-integer dimension"});
  expect_error([&] { open_with(R"({"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]})"); },
               ErrorKind::kInvalidInput, {"tensor 'w' has unsupported dtype F8_E4M3"});
  expect_error([&] { open_with(R"({"dtype":"F32","shape":[2]})"); }, ErrorKind::kInvalidInput,
               {"tensor 'w' needs dtype, shape and data_offsets"});
}

TEST(HostileCheckpoint, IndexNamingShardsOutsideTheDirectory) {
  ScratchDir dir;
  dir.write("model.safetensors.index.json", R"({"weight_map": {"w": "../../etc/passwd"}})");
  expect_error([&] { TensorStore::open_dir(dir.path()); }, ErrorKind::kInvalidInput,
               {"shard name '../../etc/passwd' must be a plain file name in the model directory"});
}

TEST(HostileCheckpoint, IndexProblems) {
  ScratchDir dir;
  dir.write("model.safetensors.index.json", R"({"weight_map": {"w": "model-00002-of-00002.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir.path()); }, ErrorKind::kNotFound,
               {"cannot open", "model-00002-of-00002.safetensors", "No such file or directory"});
  dir.write("model.safetensors.index.json", R"([1, 2, 3])");
  expect_error([&] { TensorStore::open_dir(dir.path()); }, ErrorKind::kInvalidInput,
               {"model.safetensors.index.json: expected a JSON object with a \"weight_map\" object"});
  dir.write("model.safetensors.index.json", R"({"weight_map": {}})");
  expect_error([&] { TensorStore::open_dir(dir.path()); }, ErrorKind::kInvalidInput, {"weight_map is empty"});
}

TEST(HostileCheckpoint, TensorInTwoShards) {
  ScratchDir dir;
  const std::string shard = safetensors_bytes(kTwoFloats, std::string(8, '\0'));
  dir.write("a.safetensors", shard);
  dir.write("b.safetensors", shard);
  dir.write("model.safetensors.index.json", R"({"weight_map": {"a": "a.safetensors", "x": "b.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir.path()); }, ErrorKind::kInvalidInput,
               {"b.safetensors: tensor 'a' appears in more than one shard"});
}

// The bundled model with an edited config.json, through the whole loader.
fs::path model_with_config(const ScratchDir& dir, const std::function<void(nlohmann::json&)>& edit) {
  const fs::path model = copy_bundled_model(dir, {"config.json"});
  auto config = nlohmann::json::parse(testing::read_file(testing::bundled_model_dir() / "config.json"));
  edit(config);
  std::ofstream(model / "config.json") << config.dump(2);
  return model;
}

TEST(HostileCheckpoint, TensorShapeDisagreesWithConfig) {
  ScratchDir dir;
  const fs::path model = model_with_config(dir, [](nlohmann::json& c) { c["intermediate_size"] = 512; });
  expect_error([&] { Engine::load(model); }, ErrorKind::kInvalidInput,
               {"tensor 'model.layers.0.mlp.fc1.weight' has shape [384, 96], expected [512, 96] from config.json"});
  ScratchDir dir2;
  const fs::path vision = model_with_config(dir2, [](nlohmann::json& c) { c["vision_tower_config"]["patch_size"] = 16; });
  expect_error([&] { Engine::load(vision); }, ErrorKind::kInvalidInput, {"has shape", "expected", "from config.json"});
}

TEST(HostileCheckpoint, MissingTensor) {
  ScratchDir dir;
  const fs::path model = model_with_config(dir, [](nlohmann::json& c) { c["num_hidden_layers"] = 7; });
  expect_error([&] { Engine::load(model); }, ErrorKind::kInvalidInput,
               {"checkpoint is missing tensor 'model.layers.6.input_layernorm.weight'"});
}

}  // namespace
}  // namespace lumen::hardening
