#include "cli/retrieval_common.h"

#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"

namespace lumen::cli {

void EmbedderCliOptions::add_to(ArgParser& parser, bool with_method_option) {
  model.add_to(parser);
  with_method = with_method_option;
  if (with_method_option) {
    parser.option("--method", "", "M",
                  "how embeddings are made: auto (siglip for a SigLIP dual encoder, caption for an Imp model),\n"
                  "siglip, caption or prompt (default auto; see README, \"Embeddings, search and recommendation\")",
                  &method);
  }
}

namespace {
std::unique_ptr<Embedder> load_with(const ModelOptions& model, const std::string& dir, const std::string& method) {
  if (model.threads > 0) ThreadPool::set_global_threads(static_cast<int>(model.threads));
  if (model.device != "cpu") throw UsageError("embeddings run on the CPU; --device " + model.device + " is not supported here");
  EmbedderOptions options;
  options.method = method;
  options.image_limits.max_pixels = static_cast<uint64_t>(model.max_pixels);
  options.alpha = model.alpha_mode();
  return load_embedder(dir, options);
}
}  // namespace

std::unique_ptr<Embedder> EmbedderCliOptions::load() const { return load_with(model, model.resolved_dir(), method); }

std::unique_ptr<Embedder> EmbedderCliOptions::load_for(const ItemIndex& index) const {
  const nlohmann::json& spec = index.embedder_spec();
  const std::string built_method = spec.value("method", "auto");
  const std::string dir = !model.model_dir.empty() ? model.model_dir : spec.value("model", model.resolved_dir());
  std::unique_ptr<Embedder> embedder = load_with(model, dir, built_method);
  check_embedder_matches(index, *embedder);
  return embedder;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace lumen::cli
