// load_tokenizer: the one place that names both tokenizer algorithms (and so links
// libsentencepiece); the Arm64 test binary leaves it out (tests/arm64/CMakeLists.txt).
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/text/added_tokens.h"
#include "lumen/text/bpe_tokenizer.h"
#include "lumen/text/sentencepiece_hf_tokenizer.h"
#include "lumen/text/tokenizer.h"

namespace lumen {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir) {
  using tokenizer_files::file_exists;
  const std::filesystem::path config_file = dir / "tokenizer_config.json";
  std::string tokenizer_class;
  if (file_exists(config_file)) {
    const nlohmann::json config = tokenizer_files::parse_json_object_file(config_file);
    if (const auto it = config.find("tokenizer_class"); it != config.end() && it->is_string()) {
      tokenizer_class = it->get<std::string>();
    }
  }
  const bool llama_class = tokenizer_class == "LlamaTokenizer" || tokenizer_class == "LlamaTokenizerFast";
  const bool has_model = file_exists(dir / "tokenizer.model");
  if (llama_class || (tokenizer_class.empty() && has_model && !file_exists(dir / "tokenizer.json"))) {
    if (!has_model) {
      fail_kind(ErrorKind::kNotFound, config_file.string(), ": tokenizer_class ", tokenizer_class,
                " needs tokenizer.model (SentencePiece), which is missing from ", dir.string());
    }
    return SentencePieceHfTokenizer::load(dir);
  }
  return std::make_unique<BpeTokenizer>(BpeTokenizer::load(dir));
}

}  // namespace lumen
