// Lumen's public C++ API: load an Imp checkpoint, ask questions about images, chat, caption,
// embed, and search or recommend over a catalog index. This header includes only the standard
// library; the library's internals (src/lumen) stay internal. C programs use lumen.h.
//
//   #include <lumen/lumen.hpp>
//   lumen::api::Model model = lumen::api::Model::load();   // the bundled imp-shapes model
//   std::string answer = model.ask({"photo.png"}, "Describe the image.");
//
// Link Lumen::lumen (CMake: find_package(Lumen)) or `pkg-config --libs lumen`.
//
// Everything lives in namespace lumen::api, so it can never collide with the library's
// internal types (lumen::Error, lumen::Engine, ...) in one program.
//
// Errors: every call that can fail throws lumen::api::Error, whose kind() says what went wrong;
// the library never exits or aborts on bad input. An exception thrown by a callback you pass
// reaches you unchanged.
//
// Threads: a Model may be shared by several threads; its calls (and those of its chats) run one
// at a time. Different models run in parallel. An Index serialises its own calls likewise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lumen::api {

// What went wrong (the library's own classification, so a server can pick a status code).
enum class ErrorKind {
  kInvalidInput,   // malformed or unsupported input: a bad image, checkpoint, option or catalog
  kNotFound,       // a file, model directory or item id that should exist does not
  kLimitExceeded,  // a bound was hit: image pixels, context length
  kIo,             // the operating system refused a read, write or map
  kInternal,       // a bug in Lumen, or memory ran out
};

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, ErrorKind kind) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// How a model is loaded. The defaults are those of the `lumen` CLI.
struct LoadOptions {
  std::string device = "cpu";        // "cpu", "cuda" or "cuda:N" (Error when built without CUDA)
  int threads = 0;                   // worker threads for every model in the process; 0: leave as is
                                     // (one per core unless set before). Set it before other threads
                                     // compute: the pool is replaced.
  uint64_t max_pixels = 50'000'000;  // images with more pixels are refused before decoding
  std::string alpha = "drop";        // transparency: "drop" (as the reference) or "white" (composite)
  std::string quant;                 // weights in memory: "" (as stored), "f32", "f16", "bf16", "q8_0", "q4_0"
};

// Generation limits and sampling. The defaults are greedy decoding with 256 new tokens at most,
// as `lumen ask` runs.
struct GenerateOptions {
  int max_tokens = 256;             // most new tokens
  float temperature = 0.0f;         // 0: greedy
  int top_k = 0;                    // 0: all tokens
  float top_p = 1.0f;               // nucleus sampling; 1: off
  float repetition_penalty = 1.0f;  // 1: off
  uint64_t seed = 0;
  std::vector<std::string> stop;    // the answer ends before the first of these
};

// Receives each new piece of an answer as soon as it is final (UTF-8; a piece never splits a
// character). Return false to stop generating: the call returns what was written so far.
using TextCallback = std::function<bool(std::string_view piece)>;

struct CaptionOptions {
  std::string prompt = "Describe the image.";  // the instruction given with each image
  int batch = 8;                               // images encoded per vision pass
  GenerateOptions generate;
};

class Model;

// A multi-turn conversation on a model (what `lumen chat` runs): each turn renders the whole
// conversation with the checkpoint's chat template but computes only its own new tokens.
// Keeps its model alive. Move-only.
class Chat {
 public:
  Chat(Chat&&) noexcept;
  Chat& operator=(Chat&&) noexcept;
  ~Chat();

  // One user turn, with images (file paths) attached to it, streaming through on_text when
  // given; returns the reply. A turn that throws leaves the conversation as it was.
  std::string send(const std::string& text, const std::vector<std::string>& images = {},
                   const GenerateOptions& options = {}, const TextCallback& on_text = {});
  // Attaches images to the next turn without sending anything.
  void attach(const std::vector<std::string>& images);
  // Forgets every turn and image.
  void clear();
  // Turns so far: user and assistant, alternating.
  std::size_t turns() const;

  struct Impl;  // defined inside the library

 private:
  friend class Model;
  explicit Chat(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A loaded Imp checkpoint (a Hugging Face directory: config.json, safetensors, tokenizer).
// Copies share the loaded model.
class Model {
 public:
  // Loads `dir`, or the bundled imp-shapes model when `dir` is empty (default_dir()).
  static Model load(const std::string& dir = "", const LoadOptions& options = {});
  // Where the bundled model is: $LUMEN_MODEL_DIR when set; else beside the running program
  // (PREFIX/share/lumen/models/imp-shapes for one in PREFIX/bin); else the source tree of an
  // in-tree build; else the configured install location.
  static std::string default_dir();

  // The directory this model was loaded from.
  const std::string& dir() const;

  // One question about the images (file paths; none for a text-only question), answered with
  // the chat template: exactly what `lumen ask -i IMG... "QUESTION"` prints, without its final
  // newline.
  std::string ask(const std::vector<std::string>& images, const std::string& question,
                  const GenerateOptions& options = {}) const;
  // The same, streaming each piece through on_text; returns the whole answer.
  std::string stream(const std::vector<std::string>& images, const std::string& question,
                     const TextCallback& on_text, const GenerateOptions& options = {}) const;
  // One caption per image, as `lumen caption` writes them (whitespace trimmed).
  std::vector<std::string> caption(const std::vector<std::string>& images, const CaptionOptions& options = {}) const;
  // A new conversation.
  Chat chat() const;

  // Joint image-text embeddings, one L2-normalised row per input, of embedding_dim(method)
  // floats. Methods: "auto" (= "caption"), "caption" (lexical features of the model's caption,
  // see README "Embeddings, search and recommendation") or "prompt" (a hidden state).
  std::vector<std::vector<float>> embed_images(const std::vector<std::string>& images,
                                               const std::string& method = "auto") const;
  std::vector<std::vector<float>> embed_texts(const std::vector<std::string>& texts,
                                              const std::string& method = "auto") const;
  int64_t embedding_dim(const std::string& method = "auto") const;

  struct Impl;  // defined inside the library

 private:
  explicit Model(std::shared_ptr<Impl> impl);
  friend class Chat;
  friend class Index;
  std::shared_ptr<Impl> impl_;
};

// One ranked catalog item.
struct SearchResult {
  std::string id;
  float score = 0.0f;       // cosine similarity with the query (or the recommendation profile)
  std::string fields_json;  // the item's catalog line as JSON, "image" resolved to a full path
};

struct IndexOptions {
  std::string method = "auto";  // embedding method, as Model::embed_images
  std::string mode = "auto";    // "auto" (exact up to 10,000 items, else hnsw), "exact" or "hnsw"
  float image_weight = 1.0f;    // how an item with an image and a text is fused into one vector
  float text_weight = 1.0f;
  int batch = 8;                // items embedded at a time
};

struct RecommendOptions {
  std::vector<std::string> liked;     // item ids
  std::vector<std::string> disliked;  // item ids
  std::string text;                   // an optional text preference ("": none; needs a model)
  int k = 10;
  double diversity = 0.0;             // 0: pure relevance ... 1: pure novelty (MMR)
  float disliked_weight = 0.5f;
  float text_weight = 1.0f;
};

// A catalog index (what `lumen index` writes): items from a JSON Lines catalog,
//   {"id": "sku-1", "image": "photos/1.jpg", "text": "red running shoe", ...metadata}
// embedded with a model, searchable by text or image. Move-only.
class Index {
 public:
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();

  // Embeds every item of the catalog file (image paths relative to it) with `model`.
  static Index build(const Model& model, const std::string& catalog_path, const IndexOptions& options = {});
  // Reads an index directory written by save() or `lumen index`.
  static Index load(const std::string& dir);
  // Writes the index directory atomically (a reader never sees half of it).
  void save(const std::string& dir) const;
  std::size_t size() const;

  // The k items nearest to a text or an image, best first. `model` must embed in the space the
  // index was built in (same model and method; Error otherwise).
  std::vector<SearchResult> search_text(const Model& model, const std::string& text, int k = 10) const;
  std::vector<SearchResult> search_image(const Model& model, const std::string& image_path, int k = 10) const;
  // Unseen items for a profile of liked/disliked items and an optional text preference (which
  // needs `model`; liked and disliked alone do not).
  std::vector<SearchResult> recommend(const RecommendOptions& options, const Model* model = nullptr) const;

  struct Impl;  // defined inside the library

 private:
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumen::api
