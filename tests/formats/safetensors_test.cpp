#include "lumen/formats/safetensors.h"

#include <gtest/gtest.h>

#include "lumen/core/error.h"
#include "test_data.h"

namespace lumen {
namespace {

TEST(Safetensors, OpensFixtureCheckpoint) {
  auto file = SafetensorsFile::open(testing::fixtures_dir() / "imp-tiny-a" / "model.safetensors");
  const TensorView* head = file->find("lm_head.weight");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->dtype, DType::kF16);
  EXPECT_EQ(head->shape, (std::vector<int64_t>{51200, 64}));
  EXPECT_EQ(head->nbytes, 51200u * 64u * 2u);
}

TEST(Safetensors, RejectsHeaderPastEndOfFile) {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;
  uint8_t data[4] = {};
  EXPECT_THROW(parse_safetensors_header(header, data, sizeof(data), "x", &tensors, &metadata), Error);
}

TEST(Safetensors, RejectsOverlapAndSizeMismatch) {
  uint8_t data[16] = {};
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;
  std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_THROW(parse_safetensors_header(overlap, data, sizeof(data), "x", &tensors, &metadata), Error);
  tensors.clear();
  std::string mismatch = R"({"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})";
  EXPECT_THROW(parse_safetensors_header(mismatch, data, sizeof(data), "x", &tensors, &metadata), Error);
}

TEST(Safetensors, WriteThenReadRoundTrips) {
  auto path = std::filesystem::temp_directory_path() / "lumen_roundtrip.safetensors";
  float values[6] = {1, 2, 3, 4, 5, 6};
  write_safetensors(path, {{"w", DType::kF32, {2, 3}, values, sizeof(values)}}, {{"format", "lumen"}});
  auto file = SafetensorsFile::open(path);
  const TensorView* w = file->find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(0, std::memcmp(w->data, values, sizeof(values)));
  EXPECT_EQ(file->metadata().at("format"), "lumen");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lumen
