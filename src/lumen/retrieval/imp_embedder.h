// Embeddings from a loaded Imp model (no second model needed): the "caption" and "prompt"
// methods described in retrieval/embedder.h.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/text_features.h"
#include "lumen/runtime/engine.h"

namespace lumen {

// A greedy caption with each output byte's confidence (the probability the model gave the
// token that byte came from).
struct ScoredCaption {
  std::string text;
  std::vector<float> byte_weights;  // text.size() entries
};

// Greedy reply to `prompt` (one turn of a chat session, with the checkpoint's chat template)
// about one already encoded image, stopping at eos or max_tokens.
ScoredCaption caption_with_confidence(const Engine& engine, const ImageEmbedding& image, const std::string& prompt,
                                      int64_t max_tokens);

class ImpCaptionEmbedder : public Embedder {
 public:
  ImpCaptionEmbedder(std::shared_ptr<const Engine> engine, const EmbedderOptions& options);
  int64_t dim() const override { return features_.dim; }
  std::string method() const override { return "caption"; }
  nlohmann::json describe() const override;
  std::vector<float> embed_images(const std::vector<Image>& images) const override;
  std::vector<float> embed_texts(const std::vector<std::string>& texts) const override;
  // The captions written by the last embed_images call (for inspection and the CLI's --json).
  const std::vector<std::string>& last_captions() const { return last_captions_; }

 private:
  std::shared_ptr<const Engine> engine_;
  EmbedderOptions options_;
  LexicalFeatureOptions features_;
  mutable std::vector<std::string> last_captions_;
};

class ImpPromptEmbedder : public Embedder {
 public:
  explicit ImpPromptEmbedder(std::shared_ptr<const Engine> engine);
  int64_t dim() const override;
  std::string method() const override { return "prompt"; }
  nlohmann::json describe() const override;
  std::vector<float> embed_images(const std::vector<Image>& images) const override;
  std::vector<float> embed_texts(const std::vector<std::string>& texts) const override;

 private:
  // The prompt's final hidden state (after the final norm), L2-normalised: [dim].
  std::vector<float> last_hidden(const std::vector<int32_t>& tokens, std::span<const ImageEmbedding> images) const;
  std::shared_ptr<const Engine> engine_;
};

}  // namespace lumen
