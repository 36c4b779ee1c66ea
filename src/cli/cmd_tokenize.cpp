// lumen tokenize: show how the model's tokenizer splits text.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"
#include "lumen/text/tokenizer.h"

namespace lumen::cli {

int run_tokenize(int argc, char** argv) {
  std::string model_dir;
  std::string text;
  bool json = false;
  ArgParser parser("tokenize", "lumen tokenize [-m DIR] --text TEXT [--json]",
                   "Print the token ids of TEXT as the model's tokenizer gives them (HF's tokenizer(TEXT): added tokens "
                   "split out, and the BOS a SentencePiece tokenizer adds), one per line with its text, or as JSON.");
  parser.option("--model", "-m", "DIR", "checkpoint directory (default: the bundled model)", &model_dir);
  parser.option("--text", "", "TEXT", "the text to tokenize (required)", &text);
  parser.flag("--json", "", "print {\"ids\": [...]}", &json);
  if (!parser.parse(argc, argv)) return 0;
  if (!parser.was_set("--text")) throw UsageError("--text is required (see lumen tokenize --help)");

  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(model_dir.empty() ? bundled_model_dir() : model_dir);
  std::vector<int32_t> ids = tokenizer->encode(text);
  if (json) {
    print_json({{"ids", ids}});
    return 0;
  }
  for (int32_t id : ids) {
    std::printf("%d\t%s\n", id, to_json_line(tokenizer->token_bytes(id)).c_str());
  }
  return 0;
}

}  // namespace lumen::cli
