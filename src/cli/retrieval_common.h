// Shared by `lumen embed`, `index`, `search` and `recommend`: loading the embedder (from -m or
// from what an index recorded) and printing ranked items as {"results": [...]}.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/common.h"
#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/item_index.h"

namespace lumen::cli {

struct EmbedderCliOptions {
  ModelOptions model;
  std::string method = "auto";
  bool with_method = true;

  void add_to(ArgParser& parser, bool with_method_option = true);
  // The model of -m (or the bundled one). Throws Error / UsageError.
  std::unique_ptr<Embedder> load() const;
  // The embedder an index was built with: -m when given (checked against the index), else the
  // model directory the manifest recorded.
  std::unique_ptr<Embedder> load_for(const ItemIndex& index) const;
};

// Splits "a,b,c" (empty parts dropped).
std::vector<std::string> split_commas(const std::string& text);

}  // namespace lumen::cli
