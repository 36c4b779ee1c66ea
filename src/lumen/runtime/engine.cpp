#include "lumen/runtime/engine.h"

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/text/tokenizer.h"
#include "lumen/vision/image_preprocess.h"

namespace lumen {

std::unique_ptr<Engine> Engine::load(const std::filesystem::path& dir, const EngineOptions& options) {
  std::unique_ptr<Backend> backend = make_backend(parse_device(options.device));
  Backend& on = *backend;
  auto engine = load(dir, options, on);
  engine->owned_backend_ = std::move(backend);
  return engine;
}

std::unique_ptr<Engine> Engine::load(const std::filesystem::path& dir, const EngineOptions& options,
                                     Backend& backend) {
  auto engine = std::unique_ptr<Engine>(new Engine());
  engine->dir_ = dir;
  engine->options_ = options;
  engine->model_ = ImpModel::load(dir, options.quant);
  if (has_tokenizer_files(dir)) engine->tokenizer_ = load_tokenizer(dir);
  // A token the embedding table has no row for would fail mid-request; refuse the pair here.
  const ImpConfig& config = engine->model_->config();
  const int64_t vocab = config.text.vocab_size;
  if (engine->tokenizer_ && static_cast<int64_t>(engine->tokenizer_->vocab_size()) > vocab) {
    fail(dir.string(), ": the tokenizer has token ids up to ", engine->tokenizer_->vocab_size() - 1,
         " but config.json's vocab_size is ", vocab);
  }
  if (engine->tokenizer_ && config.prompt_expands_images) {
    const std::optional<int32_t> image = engine->tokenizer_->token_id(kImageMarkerText);
    if (image && *image != config.image_token_id) {
      fail(dir.string(), ": the tokenizer gives <image> id ", *image, " but config.json's image_token_index is ",
           config.image_token_id);
    }
  }
  engine->backend_ = &backend;
  DeviceModelOptions device_options;
  device_options.activation = options.device_activation;
  engine->device_model_ = DeviceImpModel::upload(*engine->model_, backend, device_options);
  return engine;
}

const Tokenizer& Engine::tokenizer() const {
  if (!tokenizer_) {
    fail(dir_.string(), " has no tokenizer (tokenizer.model, tokenizer.json, or vocab.json and merges.txt): give the "
                        "prompt as token ids (lumen generate --prompt-ids)");
  }
  return *tokenizer_;
}

std::vector<int32_t> Engine::encode_prompt(std::string_view prompt) const {
  const Tokenizer& tokens = tokenizer();
  const ImpConfig& config = model_->config();
  if (config.prompt_expands_images && tokens.token_id(kImageMarkerText)) return tokens.encode(prompt);
  return encode_split_at_images(tokens, prompt, kImageMarkerText, config.image_token_id);
}

ChatTemplate Engine::chat_template() const { return load_chat_template(dir_, model_->config().family); }

std::vector<float> Engine::preprocess(const Image& image) const {
  const ImpConfig& c = model_->config();
  const ImageProcessorConfig& p = c.image_processor;
  if (p.resize == ImageProcessorConfig::Resize::kShortestEdgeCrop) {
    return clip_pixels(image, static_cast<int>(p.shortest_edge), static_cast<int>(p.crop_width),
                       static_cast<int>(p.crop_height), p.mean, p.std, options_.image_limits.max_pixels);
  }
  return siglip_pixels(image, static_cast<int>(c.vision.image_size), c.image_aspect, options_.image_limits.max_pixels);
}

std::vector<ImageEmbedding> Engine::encode_images(std::span<const Image> images) const {
  if (images.empty()) return {};
  std::vector<float> pixels;
  for (const Image& image : images) {
    std::vector<float> chw = preprocess(image);
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  return device_model_->encode_images_to_device(pixels.data(), static_cast<int64_t>(images.size()));
}

Image Engine::load_image(const std::filesystem::path& path) const {
  return ::lumen::load_image(path, options_.image_limits, options_.alpha);
}

}  // namespace lumen
