// lumen eval: exact-match accuracy over a questions.jsonl file
// ({"image", "type", "question", "answer", "reference_output"?} per line, image paths relative
// to the file). Questions about the same image reuse its encoding.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "lumen/core/error.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/conversation.h"
#include "lumen/runtime/chat_session.h"
#include "cli/json_output.h"
#include "lumen/formats/json_util.h"

namespace lumen::cli {

namespace {

struct Question {
  std::string image, type, question, answer;
  std::optional<std::string> reference_output;
  size_t line = 0;
};

std::vector<Question> read_questions(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail_kind(ErrorKind::kNotFound, path.string(), ": no such file");
    fail_kind(ErrorKind::kIo, "cannot read ", path.string());
  }
  std::vector<Question> questions;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string label = path.string() + ":" + std::to_string(number);
    nlohmann::json j = json_util::parse(line, label);
    if (!j.is_object()) fail(label, ": expected a JSON object");
    Question q;
    q.line = number;
    auto required = [&](const char* key) {
      auto value = json_util::get_string(j, {key}, label);
      if (!value) fail(label, ": missing \"", key, "\"");
      return *value;
    };
    q.image = required("image");
    q.question = required("question");
    q.answer = required("answer");
    q.type = json_util::get_string(j, {"type"}, label).value_or("all");
    q.reference_output = json_util::get_string(j, {"reference_output"}, label);
    questions.push_back(std::move(q));
  }
  if (questions.empty()) fail(path.string(), ": no questions");
  return questions;
}

}  // namespace

int run_eval(int argc, char** argv) {
  ModelOptions model;
  std::vector<std::string> files;
  bool json = false;
  int64_t limit = 0;
  int64_t max_tokens = 64;
  std::string outputs_path;
  ArgParser parser("eval", "lumen eval [-m DIR] QUESTIONS.jsonl [--json]",
                   "Answer every question greedily with the chat template and report exact-match accuracy\n"
                   "(answers compared after trimming spaces) per type and overall, and how many outputs equal\n"
                   "reference_output where the file has it.");
  model.add_to(parser);
  parser.flag("--json", "", "print one JSON object: {\"questions\", \"accuracy\": {\"overall\", TYPE...}, \"reference_matches\"}", &json);
  parser.option("--limit", "", "N", "evaluate only the first N questions", &limit, 0, INT64_MAX);
  parser.option("--max-tokens", "-n", "N", "most new tokens per answer (default 64)", &max_tokens, 1, 1 << 20);
  parser.option("--outputs", "", "FILE", "also write each question's output as JSON lines to FILE", &outputs_path);
  parser.positionals("QUESTIONS.jsonl", "the questions file", &files, 1, 1);
  if (!parser.parse(argc, argv)) return 0;

  const std::filesystem::path path = files[0];
  std::vector<Question> questions = read_questions(path);
  if (limit > 0 && static_cast<size_t>(limit) < questions.size()) questions.resize(static_cast<size_t>(limit));
  auto engine = model.load();
  std::unique_ptr<std::ofstream> outputs;
  if (!outputs_path.empty()) {
    outputs = std::make_unique<std::ofstream>(outputs_path);
    if (!*outputs) fail_kind(ErrorKind::kIo, "cannot write ", outputs_path);
  }

  GenerationOptions options;
  options.max_new_tokens = max_tokens;
  std::map<std::string, std::pair<size_t, size_t>> by_type;  // type -> (correct, total)
  size_t correct = 0, reference_total = 0, reference_matches = 0;
  std::string cached_image;
  std::vector<ImageEmbedding> cached_embeds;
  ProgressBar progress("evaluating", questions.size());
  for (size_t i = 0; i < questions.size(); ++i) {
    const Question& q = questions[i];
    const std::filesystem::path image_path = std::filesystem::path(q.image).is_absolute() ? std::filesystem::path(q.image)
                                                                                          : path.parent_path() / q.image;
    if (image_path.string() != cached_image) {
      Image image = engine->load_image(image_path);
      cached_embeds = engine->encode_images({&image, 1});
      cached_image = image_path.string();
    }
    ChatSession conversation(*engine);
    conversation.attach_encoded(cached_embeds);
    const std::string output = trim_whitespace(conversation.send(q.question, options).text);
    const bool is_correct = output == trim_whitespace(q.answer);
    correct += is_correct;
    auto& [type_correct, type_total] = by_type[q.type];
    type_correct += is_correct;
    ++type_total;
    if (q.reference_output) {
      ++reference_total;
      reference_matches += output == trim_whitespace(*q.reference_output);
    }
    if (outputs) {
      *outputs << to_json_line({{"line", q.line}, {"image", q.image}, {"question", q.question}, {"output", output},
                                {"answer", q.answer}, {"correct", is_correct}})
               << "\n";
    }
    progress.update(i + 1);
  }
  progress.finish();

  const double n = static_cast<double>(questions.size());
  if (json) {
    nlohmann::json accuracy = {{"overall", static_cast<double>(correct) / n}};
    for (const auto& [type, counts] : by_type) {
      accuracy[type] = static_cast<double>(counts.first) / static_cast<double>(counts.second);
    }
    nlohmann::json out = {{"questions", questions.size()}, {"accuracy", accuracy}};
    if (reference_total > 0) out["reference_matches"] = reference_matches;
    print_json(out);
    return 0;
  }
  std::printf("%-12s %9s %8s\n", "type", "questions", "accuracy");
  for (const auto& [type, counts] : by_type) {
    std::printf("%-12s %9zu %7.1f%%\n", type.c_str(), counts.second,
                100.0 * static_cast<double>(counts.first) / static_cast<double>(counts.second));
  }
  std::printf("%-12s %9zu %7.1f%%\n", "overall", questions.size(), 100.0 * static_cast<double>(correct) / n);
  if (reference_total > 0) {
    std::printf("reference outputs reproduced: %zu of %zu (%.2f%%)\n", reference_matches, reference_total,
                100.0 * static_cast<double>(reference_matches) / static_cast<double>(reference_total));
  }
  return 0;
}

}  // namespace lumen::cli
