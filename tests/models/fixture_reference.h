// Reading the float64 fixtures' reference tensors (tests/data/fixtures/*/reference.safetensors)
// in the fixture tests: one engine and one reference file per fixture, loaded once.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lumen/formats/safetensors.h"
#include "lumen/runtime/engine.h"
#include "test_data.h"

namespace lumen::testing {

// A stored fp32 reference tensor as a vector.
inline std::vector<float> as_floats(const TensorView& view) {
  EXPECT_EQ(view.dtype, DType::kF32) << view.name;
  std::vector<float> out(static_cast<size_t>(view.numel()));
  std::memcpy(out.data(), view.data, view.nbytes);
  return out;
}

// max |a[i] - b[i]| over b's length (a must hold at least as many).
inline double max_abs_diff(const float* a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < b.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

// Cosine similarity of a and b[0, a.size()), in double.
inline double cosine(const std::vector<float>& a, const float* b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// The fixture's engine, loaded on first use and kept for the whole test program.
inline Engine& fixture_engine(const std::string& fixture) {
  static std::map<std::string, std::unique_ptr<Engine>> engines;
  auto& slot = engines[fixture];
  if (!slot) slot = Engine::load(fixtures_dir() / fixture);
  return *slot;
}

// The fixture's reference.safetensors, opened on first use.
inline SafetensorsFile& fixture_reference(const std::string& fixture) {
  static std::map<std::string, std::unique_ptr<SafetensorsFile>> files;
  auto& slot = files[fixture];
  if (!slot) slot = SafetensorsFile::open(fixtures_dir() / fixture / "reference.safetensors");
  return *slot;
}

}  // namespace lumen::testing
