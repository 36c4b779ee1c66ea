// lumen embed: joint image/text embeddings of images and texts, printed or saved as .npy.
#include <cstdio>
#include <cstring>
#include <fstream>

#include "cli/commands.h"
#include "cli/json_output.h"
#include "cli/retrieval_common.h"
#include "lumen/core/error.h"
#include "lumen/retrieval/imp_embedder.h"

namespace lumen::cli {

namespace {

// NumPy .npy v1.0: magic, header length, a Python dict literal padded with spaces to a
// multiple of 64 bytes and ended by '\n', then raw little-endian float32 data.
void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail_kind(ErrorKind::kIo, "cannot write ", path);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
  if (!out) fail_kind(ErrorKind::kIo, "cannot write ", path);
}

}  // namespace

int run_embed(int argc, char** argv) {
  EmbedderCliOptions embedder_options;
  std::vector<std::string> images, texts;
  bool json = false;
  std::string npy;
  ArgParser parser("embed", "lumen embed [-m DIR] (--image IMG... | --text T...) [--json | --npy OUT]",
                   "Embed images and texts into the model's joint space (L2-normalised rows; the inner product\n"
                   "of two rows is their cosine similarity). Images come first, then texts, in the order given.\n"
                   "Default output: one line per input, INPUT<TAB>v0 v1 ... .");
  embedder_options.add_to(parser);
  parser.repeated("--image", "-i", "IMG", "an image file (may be repeated)", &images);
  parser.repeated("--text", "", "T", "a text (may be repeated)", &texts);
  parser.flag("--json", "",
              "print {\"model\", \"method\", \"dim\", \"data\": [{\"input\", \"type\", \"embedding\", \"caption\"?}]}\n"
              "(caption: what the caption method's model wrote for an image)",
              &json);
  parser.option("--npy", "", "OUT", "write the embeddings as a float32 NumPy array [inputs, dim] to OUT", &npy);
  if (!parser.parse(argc, argv)) return 0;
  if (images.empty() && texts.empty()) throw UsageError("give at least one --image or --text");
  if (json && !npy.empty()) throw UsageError("--json and --npy are exclusive");

  auto embedder = embedder_options.load();
  std::vector<Image> decoded;
  for (const auto& path : images) decoded.push_back(embedder->load_image(path));
  std::vector<float> vectors = embedder->embed_images(decoded);
  const std::vector<float> text_vectors = embedder->embed_texts(texts);
  vectors.insert(vectors.end(), text_vectors.begin(), text_vectors.end());
  const size_t dim = static_cast<size_t>(embedder->dim());
  const size_t rows = images.size() + texts.size();

  if (!npy.empty()) {
    write_npy(npy, vectors, rows, dim);
    std::fprintf(stderr, "lumen: wrote %zu x %zu embeddings to %s\n", rows, dim, npy.c_str());
    return 0;
  }
  auto input = [&](size_t i) { return i < images.size() ? images[i] : texts[i - images.size()]; };
  if (json) {
    // The caption method shows what the model wrote for each image: that is what gets matched.
    const auto* captioner = dynamic_cast<const ImpCaptionEmbedder*>(embedder.get());
    nlohmann::json data = nlohmann::json::array();
    for (size_t i = 0; i < rows; ++i) {
      nlohmann::json row = {{"input", input(i)},
                            {"type", i < images.size() ? "image" : "text"},
                            {"embedding", std::vector<float>(vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim)}};
      if (captioner != nullptr && i < images.size()) row["caption"] = captioner->last_captions()[i];
      data.push_back(std::move(row));
    }
    const nlohmann::json spec = embedder->describe();
    print_json({{"model", spec.value("model", "")}, {"method", embedder->method()}, {"dim", dim}, {"data", data}});
    return 0;
  }
  for (size_t i = 0; i < rows; ++i) {
    std::string line = input(i);
    for (char& c : line) {
      if (c == '\t' || c == '\n') c = ' ';
    }
    line += '\t';
    char number[32];
    for (size_t c = 0; c < dim; ++c) {
      std::snprintf(number, sizeof(number), c == 0 ? "%.6g" : " %.6g", static_cast<double>(vectors[i * dim + c]));
      line += number;
    }
    std::puts(line.c_str());
  }
  return 0;
}

}  // namespace lumen::cli
