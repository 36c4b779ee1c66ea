// lumen search: the catalog items nearest to a text or an image.
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/retrieval_common.h"
#include "lumen/core/error.h"

namespace lumen::cli {

int run_search(int argc, char** argv) {
  EmbedderCliOptions embedder_options;
  std::vector<std::string> positionals;
  std::string text, image;
  int64_t k = 10;
  ArgParser parser("search", "lumen search INDEX (--text T | --image IMG) [-k 10]",
                   "Rank the index's items by similarity to a text or an image (embedded with the index's model).\n"
                   "Output: {\"results\": [{\"id\", \"score\", ...metadata}]}, best first.");
  embedder_options.add_to(parser, false);
  parser.option("--text", "", "T", "the query text", &text);
  parser.option("--image", "-i", "IMG", "the query image", &image);
  parser.option("--top", "-k", "K", "how many results (default 10)", &k, 1, 10000);
  parser.positionals("INDEX", "the index directory", &positionals, 1, 1);
  if (!parser.parse(argc, argv)) return 0;
  if (parser.was_set("--text") == parser.was_set("--image")) throw UsageError("give exactly one of --text and --image");

  ItemIndex index = ItemIndex::load(positionals[0]);
  auto embedder = embedder_options.load_for(index);
  std::vector<float> query = parser.was_set("--text") ? embedder->embed_texts({text})
                                                      : embedder->embed_images({embedder->load_image(image)});
  print_json(results_json(index.search(query.data(), k)));
  return 0;
}

}  // namespace lumen::cli
