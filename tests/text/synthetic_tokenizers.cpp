#include "synthetic_tokenizers.h"

#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <stdexcept>

#include "lumen/text/bpe_tokenizer.h"

namespace lumen::testing {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {
void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string training_corpus() {
  const char* sentences[] = {
      "A chat between a curious user and an artificial intelligence assistant.",
      "The assistant gives helpful, detailed, and polite answers to the user's questions.",
      "What is in the image? There is a red circle and a blue square on a white background.",
      "Describe the picture in one sentence. A small green triangle sits above two yellow stars.",
      "How many shapes are there? There are three shapes: a circle, a square and a triangle.",
      "Hello world! The quick brown fox jumps over the lazy dog 12345 times.",
      "USER: what colour is the big shape? ASSISTANT: The big shape is orange.",
  };
  std::string corpus;
  for (int round = 0; round < 40; ++round) {
    for (const char* s : sentences) corpus += std::string(s) + "\n";
  }
  return corpus;
}
}  // namespace

const fs::path& llama_like_spm_model() {
  static std::once_flag once;
  static fs::path model;
  std::call_once(once, [] {
    const fs::path dir = fs::temp_directory_path() / ("lumen_spm_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    write_text(dir / "corpus.txt", training_corpus());
    const std::string args = "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" +
                             (dir / "tokenizer").string() +
                             " --model_type=bpe --vocab_size=420 --hard_vocab_limit=false --byte_fallback=true"
                             " --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
                             " --add_dummy_prefix=true --remove_extra_whitespaces=false"
                             " --normalization_rule_name=identity --split_digits=true --num_threads=1"
                             " --minloglevel=2 --seed_sentencepiece_size=5000";
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    if (!status.ok()) throw std::runtime_error("SentencePiece training failed: " + status.ToString());
    model = dir / "tokenizer.model";
  });
  return model;
}

void write_llama_like_tokenizer(const fs::path& dir, Json config) {
  fs::create_directories(dir);
  fs::copy_file(llama_like_spm_model(), dir / "tokenizer.model", fs::copy_options::overwrite_existing);
  if (!config.contains("tokenizer_class")) config["tokenizer_class"] = "LlamaTokenizer";
  write_text(dir / "tokenizer_config.json", config.dump());
}

void write_qwen2_like_tokenizer(const fs::path& dir) {
  fs::create_directories(dir);
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[std::string(bpe_detail::byte_symbol(static_cast<uint8_t>(b)))] = b;
  // Merges: "h e", "he l", "hel l", "hell o", "Ġ w", "1 2" (a digit pair the regex never lets meet).
  const std::pair<const char*, const char*> merges[] = {{"h", "e"}, {"he", "l"}, {"hel", "l"}, {"hell", "o"},
                                                        {"Ġ", "w"}, {"1", "2"}, {"Ã", "©"}};
  Json merge_list = Json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    vocab[std::string(a) + b] = next++;
    merge_list.push_back(std::string(a) + " " + b);
  }
  Json added = Json::array();
  int id = 300;
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    added.push_back({{"id", id++}, {"content", special}, {"special", true}, {"normalized", false},
                     {"lstrip", false}, {"rstrip", false}, {"single_word", false}});
  }
  const std::string regex =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const Json root = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         Json::array({{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                       {"use_regex", false}}})}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}, {"byte_fallback", false}}},
  };
  write_text(dir / "tokenizer.json", root.dump());
  write_text(dir / "tokenizer_config.json",
             Json({{"tokenizer_class", "Qwen2Tokenizer"}, {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"},
                   {"bos_token", nullptr}})
                 .dump());
}

}  // namespace lumen::testing
