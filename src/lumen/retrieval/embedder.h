// Joint image-text embedders: anything that maps images and texts into one space where the
// inner product of L2-normalised vectors ranks matches. Three methods:
//   "siglip"  a SigLIP dual encoder checkpoint (HF SiglipModel): its own image and text towers.
//   "caption" any Imp model: the model captions each image (greedy, with each token's
//             probability); captions and texts become lexical feature vectors (hashed content
//             words and adjacent-word bigrams, retrieval/text_features.h) so a query matches
//             the images whose captions name it, the surer the model, the higher.
//   "prompt"  any Imp model: the final hidden state of the last position after
//             "<image>\nSummarize above image in one word:" / "{text}\nSummarize above sentence
//             in one word:" (useful with large instruction-tuned models; no signal from the tiny
//             bundled one).
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lumen/vision/image.h"
#include "lumen/vision/image_decode.h"

namespace lumen {

class Embedder {
 public:
  virtual ~Embedder() = default;

  virtual int64_t dim() const = 0;
  virtual std::string method() const = 0;
  // {"method", "model", "dim", ...}: recorded in an index so queries use the same space.
  virtual nlohmann::json describe() const = 0;

  // [n, dim] row-major, each row L2-normalised (a row may be all zeros when an input has no
  // content, e.g. an empty text under "caption").
  virtual std::vector<float> embed_images(const std::vector<Image>& images) const = 0;
  virtual std::vector<float> embed_texts(const std::vector<std::string>& texts) const = 0;

  // Decodes an image file within the embedder's pixel limit, with its alpha mode. Throws Error.
  Image load_image(const std::filesystem::path& path) const { return ::lumen::load_image(path, limits_, alpha_); }
  void set_image_decoding(const ImageLimits& limits, AlphaMode alpha) {
    limits_ = limits;
    alpha_ = alpha;
  }

 protected:
  // describe() of an embedder whose images are composited onto white records "alpha": "white"
  // (the default, dropping alpha, records nothing, so indexes built before the option match).
  nlohmann::json with_alpha(nlohmann::json spec) const {
    if (alpha_ == AlphaMode::kWhite) spec["alpha"] = alpha_mode_name(alpha_);
    return spec;
  }

 private:
  ImageLimits limits_;
  AlphaMode alpha_ = AlphaMode::kDrop;
};

struct EmbedderOptions {
  std::string method = "auto";  // auto: "siglip" for a SigLIP dual encoder, else "caption"
  ImageLimits image_limits;
  AlphaMode alpha = AlphaMode::kDrop;  // transparency at decode (--alpha)
  int64_t max_caption_tokens = 48;           // caption method
  std::string caption_prompt = "Describe the image.";
};

// The method names load_embedder accepts.
const std::vector<std::string>& embedder_methods();

// Loads the model in `dir` and wraps it. Throws Error (unknown method, a method the model
// cannot serve, load errors).
std::unique_ptr<Embedder> load_embedder(const std::filesystem::path& dir, const EmbedderOptions& options = {});

}  // namespace lumen
