// SigLIP as a dual encoder (HF SiglipModel, e.g. google/siglip-so400m-patch14-384): images and
// texts map into one space where cosine similarity ranks matches.
//   image: SigLIP embeddings -> all encoder layers -> post_layernorm -> attention-pooling head
//          (MultiheadAttentionPoolingHead: a learned probe [1, hidden] attends over the patches
//          with nn.MultiheadAttention, in_proj rows [q; k; v]; then x = attn + fc2(act(fc1(LN(
//          attn))))) -> [projection]
//   text:  SiglipTextTower (last-position pooling + head)                    -> [projection]
//   logits_per_image[i, j] = exp(logit_scale) * cos(image_i, text_j) + logit_bias
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/siglip_text.h"
#include "lumen/models/siglip_vision.h"
#include "lumen/text/sentencepiece_tokenizer.h"
#include "lumen/vision/image.h"

namespace lumen {

struct SiglipDualConfig {
  SiglipTextConfig text;
  SiglipVisionConfig vision;  // HF SiglipVisionConfig defaults when keys are absent
};

// Parses a SiglipModel config.json (model_type "siglip", text_config, vision_config). Throws Error.
SiglipDualConfig parse_siglip_dual_config(const std::string& json_text, const std::string& label = "config.json");
// True when DIR/config.json says model_type "siglip" (a dual encoder, not an Imp model).
bool is_siglip_dual_dir(const std::filesystem::path& dir);

class SiglipDualEncoder {
 public:
  // Reads DIR/config.json, maps DIR's safetensors and loads DIR/spiece.model. Throws Error.
  static std::unique_ptr<SiglipDualEncoder> load(const std::filesystem::path& dir);

  const SiglipDualConfig& config() const { return config_; }
  const SiglipTextTokenizer& tokenizer() const { return tokenizer_; }
  int64_t embedding_dim() const { return config_.text.projection_size; }
  float logit_scale() const { return logit_scale_; }  // stored log scale; exp() is applied in logits
  float logit_bias() const { return logit_bias_; }

  // Squash-resize to image_size with PIL's bicubic, (x/255 - 0.5)/0.5, CHW: [3, S, S].
  std::vector<float> preprocess(const Image& image) const;
  // pixels [n, 3, S, S] -> pooled image features [n, projection] (not normalised). Runs on
  // the CPU backend; calls are serialised (one set of scratch).
  std::vector<float> image_features(const float* pixels, int64_t n_images) const;
  // Tokenised ids [n, max_length] -> text features [n, projection] (not normalised).
  std::vector<float> text_features(const std::vector<int32_t>& ids, int64_t n_texts) const;

  // Convenience: L2-normalised embeddings, [n, projection] row-major.
  std::vector<float> embed_images(const std::vector<Image>& images) const;
  std::vector<float> embed_texts(const std::vector<std::string>& texts) const;

  // logits [n_images, n_texts] from L2-normalised embeddings.
  std::vector<float> logits_per_image(const std::vector<float>& image_embeds, const std::vector<float>& text_embeds) const;

 private:
  struct Compute;  // the towers and the pooling head on a backend, with their scratch

  SiglipDualConfig config_;
  std::unique_ptr<TensorStore> store_;
  SiglipTextTokenizer tokenizer_;
  std::unique_ptr<Compute> compute_;
  mutable std::mutex mutex_;
  float logit_scale_ = 0, logit_bias_ = 0;

 public:
  SiglipDualEncoder();
  ~SiglipDualEncoder();
};

}  // namespace lumen
