// lumen recommend: unseen catalog items for a user profile of liked/disliked items and an
// optional text preference, with MMR diversity.
#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/retrieval_common.h"
#include "lumen/core/error.h"
#include "lumen/retrieval/recommend.h"

namespace lumen::cli {

int run_recommend(int argc, char** argv) {
  EmbedderCliOptions embedder_options;
  std::vector<std::string> positionals, liked, disliked;
  std::string text;
  int64_t k = 10;
  double diversity = 0.0, disliked_weight = 0.5, text_weight = 1.0;
  ArgParser parser("recommend", "lumen recommend INDEX --liked ID,... [--disliked ID,...] [--text T] [-k 10] [--diversity 0..1]",
                   "Recommend unseen items: the profile is normalize(mean(liked) - disliked_weight * mean(disliked)\n"
                   "+ text_weight * e(text)); items are ranked by cosine with it, then re-ordered by Maximal\n"
                   "Marginal Relevance when --diversity > 0. Output: {\"results\": [{\"id\", \"score\", ...}]}.");
  embedder_options.add_to(parser, false);
  parser.repeated("--liked", "", "IDS", "liked item ids, comma-separated (may be repeated)", &liked);
  parser.repeated("--disliked", "", "IDS", "disliked item ids, comma-separated (may be repeated)", &disliked);
  parser.option("--text", "", "T", "a text preference, e.g. \"something blue\"", &text);
  parser.option("--top", "-k", "K", "how many results (default 10)", &k, 1, 10000);
  parser.option("--diversity", "", "D", "0 = pure relevance ... 1 = pure novelty (default 0)", &diversity, 0.0, 1.0);
  parser.option("--disliked-weight", "", "W", "how strongly disliked items push away (default 0.5)", &disliked_weight, 0.0, 100.0);
  parser.option("--text-weight", "", "W", "weight of the text preference (default 1)", &text_weight, 0.0, 100.0);
  parser.positionals("INDEX", "the index directory", &positionals, 1, 1);
  if (!parser.parse(argc, argv)) return 0;

  RecommendRequest request;
  for (const auto& list : liked) {
    for (auto& id : split_commas(list)) request.liked.push_back(std::move(id));
  }
  for (const auto& list : disliked) {
    for (auto& id : split_commas(list)) request.disliked.push_back(std::move(id));
  }
  if (request.liked.empty() && !parser.was_set("--text")) throw UsageError("give --liked IDS and/or --text");
  request.k = k;
  request.diversity = diversity;
  request.disliked_weight = static_cast<float>(disliked_weight);
  request.text_weight = static_cast<float>(text_weight);

  ItemIndex index = ItemIndex::load(positionals[0]);
  for (const auto& id : request.liked) {
    if (!index.contains(id)) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in ", positionals[0]);
  }
  for (const auto& id : request.disliked) {
    if (!index.contains(id)) fail_kind(ErrorKind::kNotFound, "no item with id \"", id, "\" in ", positionals[0]);
  }
  if (parser.was_set("--text")) {
    // Only a text preference needs the model; liked/disliked vectors are in the index.
    auto embedder = embedder_options.load_for(index);
    request.preference = embedder->embed_texts({text});
  }
  print_json(results_json(recommend(index, request)));
  return 0;
}

}  // namespace lumen::cli
