// lumen caption: one caption per image, for files or whole folders, with batched vision.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/conversation.h"
#include "lumen/runtime/chat_session.h"
#include "cli/json_output.h"
#include "lumen/core/error.h"
#include "lumen/retrieval/shard.h"

namespace lumen::cli {

namespace {

bool has_image_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Files as given; folders expand to their JPEG and PNG files in name order.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::filesystem::path> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::directory_iterator(input, ec)) {
        if (entry.is_regular_file() && has_image_extension(entry.path())) found.push_back(entry.path());
      }
      if (found.empty()) warn(input + ": no .png, .jpg or .jpeg files in this folder");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.emplace_back(input);
    }
  }
  return files;
}

}  // namespace

int run_caption(int argc, char** argv) {
  ModelOptions model;
  SamplingOptions sampling;
  std::vector<std::string> inputs;
  std::string prompt = "Describe the image.";
  std::string output, shard_text;
  bool jsonl = false;
  int64_t batch = 8;
  ArgParser parser("caption", "lumen caption [-m DIR] IMG...|DIR [-o FILE [--shard K/N]] [options]",
                   "Caption each image. Output is one line per image: PATH<TAB>CAPTION, or with --jsonl\n"
                   "{\"image\", \"caption\", \"ms\"}. Unreadable files are skipped with a warning and make the\n"
                   "exit status 1. A progress bar with rate and ETA is drawn on a terminal.");
  model.add_to(parser);
  parser.option("--prompt", "", "TEXT", "the instruction given with each image (default \"Describe the image.\")", &prompt);
  parser.option("--batch", "", "N", "images encoded per vision forward pass (default 8)", &batch, 1, 256);
  sampling.add_to(parser);
  parser.flag("--jsonl", "", "write one JSON object per line", &jsonl);
  parser.option("--output", "-o", "FILE",
                "write the lines to FILE instead of stdout, atomically: into FILE.tmp, renamed to FILE\n"
                "once every image is done (FILE is replaced; with --shard an existing FILE is kept)",
                &output);
  parser.option("--shard", "", "K/N",
                "caption only shard K of N (0 <= K < N) of the image list (files in the order given,\n"
                "folders in name order), cut into N contiguous ranges of near-equal size, so the shards'\n"
                "files concatenated in K order equal the unsharded output. Needs -o. If FILE exists the\n"
                "shard is complete and is skipped (exit 0); a FILE.tmp left by a killed run is redone",
                &shard_text);
  parser.positionals("IMG...|DIR", "image files and/or folders of images", &inputs, 1);
  parser.epilog("Sharded runs on a cluster: deploy/slurm/caption-array.sbatch (see deploy/README.md).");
  if (!parser.parse(argc, argv)) return 0;

  std::optional<ShardSpec> shard;
  if (!shard_text.empty()) {
    try {
      shard = parse_shard_spec(shard_text);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    if (output.empty()) throw UsageError("--shard needs -o FILE: each shard writes its own file");
  }
  std::error_code ec;
  if (shard && std::filesystem::exists(output, ec)) {
    if (!std::filesystem::is_regular_file(output, ec)) throw UsageError(output + ": exists and is not a file");
    std::fprintf(stderr, "lumen: shard %s is complete (%s exists); skipping it\n", shard_text.c_str(), output.c_str());
    return 0;
  }
  std::vector<std::filesystem::path> files = expand_inputs(inputs);
  if (shard) {
    const ShardRange range = shard_range(files.size(), *shard);
    std::fprintf(stderr, "lumen: shard %s: images [%zu, %zu) of %zu\n", shard_text.c_str(), range.begin,
                 range.end, files.size());
    files = std::vector<std::filesystem::path>(files.begin() + static_cast<std::ptrdiff_t>(range.begin),
                                               files.begin() + static_cast<std::ptrdiff_t>(range.end));
  }
  // Opened before the model loads, so a bad -o fails at once.
  std::optional<AtomicTextFile> out_file;
  if (!output.empty()) out_file.emplace(output);
  const auto emit = [&](const std::string& line) {
    if (out_file) {
      out_file->write(line);
    } else {
      std::fputs(line.c_str(), stdout);
      std::fflush(stdout);
    }
  };

  auto engine = model.load();
  GenerationOptions options = sampling.to_generation_options();
  ProgressBar progress("captioning", files.size());
  size_t failed = 0, done = 0;
  for (size_t first = 0; first < files.size(); first += static_cast<size_t>(batch)) {
    const size_t last = std::min(files.size(), first + static_cast<size_t>(batch));
    // Decode the batch, skipping what cannot be read; then encode the rest in one pass.
    std::vector<Image> images;
    std::vector<size_t> index;
    for (size_t i = first; i < last; ++i) {
      try {
        images.push_back(engine->load_image(files[i]));
        index.push_back(i);
      } catch (const Error& e) {
        if (stderr_is_terminal()) std::fputc('\n', stderr);
        warn(std::string("skipping ") + e.what());
        ++failed;
      }
    }
    auto start = std::chrono::steady_clock::now();
    const std::vector<ImageEmbedding> embeds = engine->encode_images(images);
    const double encode_ms_each =
        images.empty() ? 0.0
                       : std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                             static_cast<double>(images.size());
    for (size_t j = 0; j < images.size(); ++j) {
      auto t0 = std::chrono::steady_clock::now();
      ChatSession conversation(*engine);
      conversation.attach_encoded({&embeds[j], 1});
      GenerationResult r = conversation.send(prompt, options);
      const double ms = encode_ms_each + std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const std::string path = files[index[j]].string();
      if (!out_file && stderr_is_terminal()) std::fputs("\r\033[K", stderr);
      if (jsonl) {
        emit(to_json_line({{"image", path}, {"caption", trim_whitespace(r.text)}, {"ms", ms}}) + "\n");
      } else {
        emit(path + "\t" + trim_whitespace(r.text) + "\n");
      }
      progress.update(++done + failed);
    }
    progress.update(done + failed);
  }
  progress.finish();
  // Every readable image has its line: the output is complete even when some were skipped
  // (they are reported below and in the exit status; a rerun would skip them again).
  if (out_file) out_file->commit();
  if (failed > 0) {
    std::fprintf(stderr, "lumen: %zu of %zu images could not be read\n", failed, files.size());
    return 1;
  }
  return 0;
}

}  // namespace lumen::cli
