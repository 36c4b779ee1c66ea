#include "lumen/retrieval/imp_embedder.h"

#include <algorithm>
#include <cmath>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"
#include "lumen/runtime/chat_session.h"
#include "lumen/runtime/decoder_run.h"
#include "lumen/runtime/generator.h"
#include "lumen/text/chat_template.h"

namespace lumen {

namespace {

// The prompts of the "one-word summary" method (after E5-V / PromptEOL).
constexpr const char* kImagePrompt = "<image>\nSummarize above image in one word:";
constexpr const char* kTextSuffix = "\nSummarize above sentence in one word:";

}  // namespace

ScoredCaption caption_with_confidence(const Engine& engine, const ImageEmbedding& image, const std::string& prompt,
                                      int64_t max_tokens) {
  const ImpConfig& config = engine.model().config();
  const ChatTemplate chat = engine.chat_template();
  const std::vector<int32_t> tokens = engine.encode_prompt(chat.render({{ChatTurn::Role::kUser, prompt, 1}}));
  const int64_t positions = count_prompt_positions(engine, tokens, 1);
  const int64_t budget = std::max<int64_t>(0, std::min<int64_t>(max_tokens, config.text.max_positions - positions));

  // The generator's token loop, greedy, recording each token's softmax probability:
  // p = 1 / sum_j exp(l_j - l_max) for the picked (largest) logit.
  ScoredCaption caption;
  GenerationOptions options;
  options.max_new_tokens = budget;
  options.sampling.temperature = 0;
  options.on_token = [&](int32_t token, std::span<const float> logits) {
    const float top = logits[static_cast<size_t>(token)];
    double denominator = 0;
    for (float l : logits) denominator += std::exp(static_cast<double>(l - top));
    const bool eos =
        std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), token) != config.eos_token_ids.end();
    if (eos || engine.tokenizer().is_special(token)) return;  // not part of the text (generate drops them)
    const size_t bytes = engine.tokenizer().token_bytes(token).size();
    caption.byte_weights.insert(caption.byte_weights.end(), bytes, static_cast<float>(1.0 / denominator));
  };
  ChatSession session(engine, positions + budget);
  session.attach_encoded({&image, 1});
  caption.text = session.send(prompt, options).text;
  return caption;
}

ImpCaptionEmbedder::ImpCaptionEmbedder(std::shared_ptr<const Engine> engine, const EmbedderOptions& options)
    : engine_(std::move(engine)), options_(options) {
  set_image_decoding(options.image_limits, options.alpha);
  if (options_.max_caption_tokens < 1) fail("the caption method needs max_caption_tokens >= 1");
}

nlohmann::json ImpCaptionEmbedder::describe() const {
  return with_alpha({{"method", method()},
                     {"model", engine_->dir().string()},
                     {"dim", dim()},
                     {"caption_prompt", options_.caption_prompt},
                     {"max_caption_tokens", options_.max_caption_tokens},
                     {"bigram_weight", features_.bigram_weight}});
}

std::vector<float> ImpCaptionEmbedder::embed_images(const std::vector<Image>& images) const {
  const size_t n = images.size();
  const int64_t d = dim();
  std::vector<float> out(n * static_cast<size_t>(d));
  last_captions_.assign(n, "");
  if (n == 0) return out;
  // One batched vision pass, then one caption per image.
  const std::vector<ImageEmbedding> embeds = engine_->encode_images(images);
  for (size_t i = 0; i < n; ++i) {
    ScoredCaption caption =
        caption_with_confidence(*engine_, embeds[i], options_.caption_prompt, options_.max_caption_tokens);
    const std::vector<float> v = lexical_features(content_words(caption.text, caption.byte_weights), features_);
    std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(d)));
    // The reply starts after "ASSISTANT:" with a space; shown without it.
    const size_t begin = caption.text.find_first_not_of(' ');
    last_captions_[i] = begin == std::string::npos ? "" : caption.text.substr(begin);
  }
  return out;
}

std::vector<float> ImpCaptionEmbedder::embed_texts(const std::vector<std::string>& texts) const {
  const int64_t d = dim();
  std::vector<float> out(texts.size() * static_cast<size_t>(d));
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> v = lexical_features(content_words(texts[i]), features_);
    std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(d)));
  }
  return out;
}

ImpPromptEmbedder::ImpPromptEmbedder(std::shared_ptr<const Engine> engine) : engine_(std::move(engine)) {
  set_image_decoding(engine_->options().image_limits, engine_->options().alpha);
}

int64_t ImpPromptEmbedder::dim() const { return engine_->model().config().text.hidden_size; }

nlohmann::json ImpPromptEmbedder::describe() const {
  return with_alpha({{"method", method()}, {"model", engine_->dir().string()}, {"dim", dim()}});
}

std::vector<float> ImpPromptEmbedder::last_hidden(const std::vector<int32_t>& tokens,
                                                  std::span<const ImageEmbedding> images) const {
  // One prefill of exactly the prompt on the engine's backend: no reply, so no chat session.
  const int64_t positions = count_prompt_positions(*engine_, tokens, images.size());
  DecoderRun run(*engine_, positions);
  const DeviceBuffer embeds = splice_prompt_embeddings(*engine_, tokens, images);
  std::vector<float> hidden(static_cast<size_t>(dim()));
  run.prefill(embeds.as<const float>(), positions, nullptr, hidden.data());
  l2_normalize_rows(hidden.data(), 1, dim());
  return hidden;
}

std::vector<float> ImpPromptEmbedder::embed_images(const std::vector<Image>& images) const {
  const int64_t d = dim();
  std::vector<float> out(images.size() * static_cast<size_t>(d));
  if (images.empty()) return out;
  const std::vector<ImageEmbedding> embeds = engine_->encode_images(images);
  const std::vector<int32_t> tokens = engine_->encode_prompt(kImagePrompt);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<float> v = last_hidden(tokens, {&embeds[i], 1});
    std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(d)));
  }
  return out;
}

std::vector<float> ImpPromptEmbedder::embed_texts(const std::vector<std::string>& texts) const {
  const int64_t d = dim();
  std::vector<float> out(texts.size() * static_cast<size_t>(d));
  const int32_t image_token = engine_->model().config().image_token_id;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> tokens = engine_->tokenizer().encode(texts[i] + kTextSuffix);
    // A query must not smuggle in an <image> marker with no image behind it.
    tokens.erase(std::remove(tokens.begin(), tokens.end(), image_token), tokens.end());
    const std::vector<float> v = last_hidden(tokens, {});
    std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(d)));
  }
  return out;
}

}  // namespace lumen
