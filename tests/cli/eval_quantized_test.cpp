// Accuracy held under quantization: `lumen eval` over all 3,897 questions of the bundled
// shapes set at --quant q8_0 and q4_0, against the F16 accuracy. The F16 figure is that of the
// reference outputs recorded in questions.jsonl, which the exact (default) engine reproduces
// (EvalShapes.ReproducesReferenceOutputsOnAllQuestions checks that).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_cli.h"
#include "test_data.h"

namespace lumen {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Over the first `limit` questions.
double reference_accuracy(const std::filesystem::path& questions, int limit) {
  std::ifstream in(questions);
  std::string line;
  int total = 0, correct = 0;
  while (total < limit && std::getline(in, line)) {
    if (trim(line).empty()) continue;
    auto j = nlohmann::json::parse(line);
    ++total;
    correct += trim(j["reference_output"].get<std::string>()) == trim(j["answer"].get<std::string>());
  }
  return static_cast<double>(correct) / total;
}

double quantized_accuracy(const std::filesystem::path& questions, const char* quant, int limit) {
  auto r = testing::run_cli({"eval", questions.string(), "--quant", quant, "--limit", std::to_string(limit), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return 0.0;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["questions"].get<int>(), limit);
  return j["accuracy"]["overall"].get<double>();
}

TEST(EvalQuantized, AccuracyHeldAtQ8AndQ4) {
  const auto questions = testing::data_dir() / "eval" / "shapes" / "questions.jsonl";
  int limit = 3897;
  if (testing::sanitizer_pass()) {
    limit = testing::kSanitizerQuestions;
    std::printf("[ eval     ] sanitizer pass: first %d of 3897 questions only (the Release pass runs all)\n", limit);
  }
  const double f16 = reference_accuracy(questions, limit);
  const double q8 = quantized_accuracy(questions, "q8_0", limit);
  const double q4 = quantized_accuracy(questions, "q4_0", limit);
  std::printf("[ eval     ] overall accuracy: f16 %.2f%%, q8_0 %.2f%%, q4_0 %.2f%%\n", 100 * f16, 100 * q8, 100 * q4);
  EXPECT_GE(q8, f16 - 0.01) << "Q8_0 must stay within 1 point of F16";
  EXPECT_GE(q4, f16 - 0.04) << "Q4_0 must stay within 4 points of F16";
}

}  // namespace
}  // namespace lumen
