// lumen index build|add|remove|info: catalog indexes for `lumen search` and `lumen recommend`.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <optional>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/retrieval_common.h"
#include "lumen/core/error.h"
#include "lumen/retrieval/index_merge.h"
#include "lumen/retrieval/shard.h"

namespace lumen::cli {

namespace {

constexpr const char* kCatalogHelp =
    "A catalog is JSON Lines, one item per line: {\"id\", \"image\"?, \"text\"?, ...metadata}; image paths\n"
    "are relative to the catalog file. An item with both an image and a text gets one vector,\n"
    "normalize(image_weight * e_image + text_weight * e_text).";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Embeds a catalog's items with a progress bar. Returns the fused vectors.
std::vector<float> embed_with_progress(const Embedder& embedder, const std::vector<CatalogItem>& items,
                                       const FusionWeights& fusion, int64_t batch) {
  ProgressBar progress("embedding", items.size());
  std::vector<float> vectors =
      embed_catalog_items(embedder, items, fusion, batch, [&](size_t done) { progress.update(done); });
  progress.finish();
  return vectors;
}

// --shard K/N parsed; bad text is a usage error.
ShardSpec parse_shard_option(const std::string& text) {
  try {
    return parse_shard_spec(text);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

int index_build(int argc, char** argv) {
  EmbedderCliOptions embedder_options;
  std::vector<std::string> positionals;
  std::string output, mode = "auto", shard_text;
  double image_weight = 1.0, text_weight = 1.0;
  int64_t batch = 8, m = 16, ef_construction = 200, ef_search = 64, exact_threshold = 10000;
  ArgParser parser("index build", "lumen index build CATALOG.jsonl -o INDEX [-m DIR] [options]",
                   std::string("Embed every catalog item and save a search index (a directory).\n") + kCatalogHelp);
  embedder_options.add_to(parser);
  parser.option("--output", "-o", "INDEX", "the index directory to write (replaced if it is an index)", &output);
  parser.option("--mode", "", "MODE",
                "auto (exact up to --exact-threshold items, else hnsw), exact (scan every vector) or hnsw\n"
                "(approximate nearest neighbours with hnswlib) (default auto)",
                &mode);
  parser.option("--exact-threshold", "", "N", "largest catalog auto mode keeps exact (default 10000)", &exact_threshold, 0, INT64_MAX);
  parser.option("--image-weight", "", "W", "weight of an item's image in its vector (default 1)", &image_weight, 0.0, 1e6);
  parser.option("--text-weight", "", "W", "weight of an item's text in its vector (default 1)", &text_weight, 0.0, 1e6);
  parser.option("--batch", "", "N", "images embedded per batch (default 8)", &batch, 1, 256);
  parser.option("--hnsw-m", "", "M", "HNSW graph degree (default 16)", &m, 2, 256);
  parser.option("--ef-construction", "", "N", "HNSW build candidate list (default 200)", &ef_construction, 1, 100000);
  parser.option("--ef-search", "", "N", "HNSW search candidate list (default 64)", &ef_search, 1, 100000);
  parser.option("--shard", "", "K/N",
                "index only shard K of N (0 <= K < N): the catalog's items in file order, cut into N\n"
                "contiguous ranges of near-equal size; join the shards with 'lumen index merge'. If INDEX\n"
                "already holds an index the shard is complete and is skipped (exit 0); it is built in\n"
                "INDEX.tmp and renamed to INDEX when done, so a killed run's INDEX.tmp is redone",
                &shard_text);
  parser.positionals("CATALOG.jsonl", "the catalog", &positionals, 1, 1);
  parser.epilog("Sharded runs on a cluster: deploy/slurm/index-array.sbatch (see deploy/README.md).");
  if (!parser.parse(argc, argv, 3)) return 0;
  if (output.empty()) throw UsageError("-o INDEX is required");
  if (image_weight + text_weight <= 0) throw UsageError("--image-weight and --text-weight cannot both be 0");
  std::optional<ShardSpec> shard;
  if (!shard_text.empty()) shard = parse_shard_option(shard_text);
  std::error_code ec;
  if (shard && std::filesystem::exists(std::filesystem::path(output) / "manifest.json", ec)) {
    std::fprintf(stderr, "lumen: shard %s is complete (%s exists); skipping it\n", shard_text.c_str(), output.c_str());
    return 0;
  }

  IndexConfig config;
  if (mode != "auto") config.mode = parse_index_mode(mode);
  config.exact_threshold = exact_threshold;
  config.hnsw = {m, ef_construction, ef_search, 100};
  config.fusion = {static_cast<float>(image_weight), static_cast<float>(text_weight)};

  const auto start = std::chrono::steady_clock::now();
  std::vector<CatalogItem> items = read_catalog(positionals[0]);
  if (shard) {
    const ShardRange range = shard_range(items.size(), *shard);
    std::fprintf(stderr, "lumen: shard %s: items [%zu, %zu) of %zu\n", shard_text.c_str(), range.begin, range.end,
                 items.size());
    items = std::vector<CatalogItem>(std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(range.begin)),
                                     std::make_move_iterator(items.begin() + static_cast<std::ptrdiff_t>(range.end)));
  }
  auto embedder = embedder_options.load();
  ItemIndex index(embedder->describe(), embedder->dim(), config, items.size());
  index.upsert(items, embed_with_progress(*embedder, items, config.fusion, batch));
  index.save(output);
  std::fprintf(stderr, "lumen: indexed %zu items (%s, %s, %lld dims) into %s in %.1f s\n", index.size(),
               embedder->method().c_str(), index_mode_name(index.mode()), static_cast<long long>(index.dim()),
               output.c_str(), seconds_since(start));
  return 0;
}

int index_merge(int argc, char** argv) {
  std::vector<std::string> positionals;
  std::string mode = "auto";
  int64_t exact_threshold = 10000;
  ArgParser parser("index merge", "lumen index merge OUT SHARD_INDEX... [options]",
                   "Join shard indexes (made by 'lumen index build --shard K/N') into one index at OUT. Items\n"
                   "keep their order, shards in the order given, so shards 0..N-1 of a catalog merge into the\n"
                   "index one build would have made. Every shard must have the same embedder (method, model\n"
                   "and settings), dimension and fusion weights, and no id may be in two shards; otherwise\n"
                   "nothing is written. OUT is written atomically (built in OUT.tmp, then renamed) and\n"
                   "replaced if it is an index. The HNSW parameters are the first shard's.");
  parser.option("--mode", "", "MODE",
                "auto (exact up to --exact-threshold items in all, else hnsw), exact or hnsw (default auto)", &mode);
  parser.option("--exact-threshold", "", "N", "largest merged index auto mode keeps exact (default 10000)",
                &exact_threshold, 0, INT64_MAX);
  parser.positionals("OUT SHARD_INDEX...", "the index to write, then the shard indexes", &positionals, 2);
  if (!parser.parse(argc, argv, 3)) return 0;
  IndexMergeOptions options;
  if (mode != "auto") options.mode = parse_index_mode(mode);
  options.exact_threshold = exact_threshold;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::filesystem::path> shards(positionals.begin() + 1, positionals.end());
  const ItemIndex index = merge_index_dirs(shards, options);
  index.save(positionals[0]);
  std::fprintf(stderr, "lumen: merged %zu shards, %zu items (%s, %lld dims) into %s in %.1f s\n", shards.size(),
               index.size(), index_mode_name(index.mode()), static_cast<long long>(index.dim()), positionals[0].c_str(),
               seconds_since(start));
  return 0;
}

int index_add(int argc, char** argv) {
  EmbedderCliOptions embedder_options;
  std::vector<std::string> positionals;
  int64_t batch = 8;
  ArgParser parser("index add", "lumen index add INDEX CATALOG.jsonl [-m DIR]",
                   std::string("Embed the catalog's items with the index's model and add them; an existing id is\n"
                               "replaced.\n") + kCatalogHelp);
  embedder_options.add_to(parser, false);
  parser.option("--batch", "", "N", "images embedded per batch (default 8)", &batch, 1, 256);
  parser.positionals("INDEX CATALOG.jsonl", "the index and the catalog of items to add", &positionals, 2, 2);
  if (!parser.parse(argc, argv, 3)) return 0;
  const auto start = std::chrono::steady_clock::now();
  ItemIndex index = ItemIndex::load(positionals[0]);
  const std::vector<CatalogItem> items = read_catalog(positionals[1]);
  auto embedder = embedder_options.load_for(index);
  size_t replaced = 0;
  for (const auto& item : items) replaced += index.contains(item.id);
  index.upsert(items, embed_with_progress(*embedder, items, index.fusion(), batch));
  index.save(positionals[0]);
  std::fprintf(stderr, "lumen: added %zu items (%zu replaced); %zu in %s, %.1f s\n", items.size() - replaced, replaced,
               index.size(), positionals[0].c_str(), seconds_since(start));
  return 0;
}

int index_remove(int argc, char** argv) {
  std::vector<std::string> positionals;
  ArgParser parser("index remove", "lumen index remove INDEX ID...",
                   "Remove items by id (comma-separated lists work too). Unknown ids are an error and nothing is removed.");
  parser.positionals("INDEX ID...", "the index and the ids to remove", &positionals, 2);
  if (!parser.parse(argc, argv, 3)) return 0;
  ItemIndex index = ItemIndex::load(positionals[0]);
  std::vector<std::string> ids;
  for (size_t i = 1; i < positionals.size(); ++i) {
    for (auto& id : split_commas(positionals[i])) ids.push_back(std::move(id));
  }
  index.remove(ids);
  index.save(positionals[0]);
  std::fprintf(stderr, "lumen: removed %zu items; %zu left in %s\n", ids.size(), index.size(), positionals[0].c_str());
  return 0;
}

int index_info(int argc, char** argv) {
  std::vector<std::string> positionals;
  ArgParser parser("index info", "lumen index info INDEX", "Print an index's manifest facts as JSON.");
  parser.positionals("INDEX", "the index", &positionals, 1, 1);
  if (!parser.parse(argc, argv, 3)) return 0;
  const auto start = std::chrono::steady_clock::now();
  ItemIndex index = ItemIndex::load(positionals[0]);
  print_json({{"items", index.size()},
              {"dim", index.dim()},
              {"mode", index_mode_name(index.mode())},
              {"embedder", index.embedder_spec()},
              {"fusion", {{"image_weight", index.fusion().image}, {"text_weight", index.fusion().text}}},
              {"load_ms", seconds_since(start) * 1000.0}});
  return 0;
}

}  // namespace

int run_index(int argc, char** argv) {
  constexpr const char* kUsage =
      "usage: lumen index build CATALOG.jsonl -o INDEX [options]\n"
      "       lumen index build CATALOG.jsonl -o SHARD_INDEX --shard K/N [options]\n"
      "       lumen index merge OUT SHARD_INDEX...\n"
      "       lumen index add INDEX CATALOG.jsonl\n"
      "       lumen index remove INDEX ID...\n"
      "       lumen index info INDEX\n"
      "Run 'lumen index SUBCOMMAND --help' for options.\n";
  if (argc < 3 || std::strcmp(argv[2], "--help") == 0 || std::strcmp(argv[2], "-h") == 0) {
    std::fputs(kUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  const std::string sub = argv[2];
  if (sub == "build") return index_build(argc, argv);
  if (sub == "merge") return index_merge(argc, argv);
  if (sub == "add") return index_add(argc, argv);
  if (sub == "remove") return index_remove(argc, argv);
  if (sub == "info") return index_info(argc, argv);
  throw UsageError("unknown subcommand '" + sub + "' (expected build, merge, add, remove or info)");
}

}  // namespace lumen::cli
