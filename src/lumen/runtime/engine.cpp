#include "lumen/runtime/engine.h"

#include <algorithm>

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/vision/image_preprocess.h"
#include "lumen/vision/resize_bicubic.h"

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
  engine->tokenizer_ = BpeTokenizer::load(dir);
  // A token the embedding table has no row for would fail mid-request; refuse the pair here.
  const int64_t vocab = engine->model_->config().text.vocab_size;
  if (static_cast<int64_t>(engine->tokenizer_.vocab_size()) > vocab) {
    fail(dir.string(), ": the tokenizer has token ids up to ", engine->tokenizer_.vocab_size() - 1,
         " but config.json's vocab_size is ", vocab);
  }
  engine->backend_ = &backend;
  DeviceModelOptions device_options;
  device_options.activation = options.device_activation;
  engine->device_model_ = DeviceImpModel::upload(*engine->model_, backend, device_options);
  return engine;
}

std::vector<float> Engine::preprocess(const Image& image) const {
  constexpr std::array<float, 3> kSiglipMean = {0.5f, 0.5f, 0.5f}, kSiglipStd = {0.5f, 0.5f, 0.5f};
  const int size = static_cast<int>(model_->config().vision.image_size);
  if (model_->config().image_aspect == ImageAspect::kPad) {
    // The square canvas is larger than the image (a 50000 x 1000 PNG is small but pads to 2.5
    // billion pixels): the pixel limit applies to it too, before it is allocated.
    const uint64_t side = static_cast<uint64_t>(std::max(image.width, image.height));
    if (side * side > options_.image_limits.max_pixels) {
      fail_kind(ErrorKind::kLimitExceeded, "the image is ", image.width, "x", image.height, " pixels; padded to a square (",
                "image_aspect_ratio pad) it has ", side * side, ", more than the limit of ",
                options_.image_limits.max_pixels);
    }
    Image square = expand_to_square(image, mean_fill_colour(kSiglipMean));
    return normalize_to_chw(resize_bicubic_pil(square, size, size), kSiglipMean, kSiglipStd);
  }
  return normalize_to_chw(resize_bicubic_pil(image, size, size), kSiglipMean, kSiglipStd);
}

std::vector<float> Engine::encode_images(std::span<const Image> images) const {
  if (images.empty()) return {};
  std::vector<float> pixels;
  for (const Image& image : images) {
    std::vector<float> chw = preprocess(image);
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  return device_model_->encode_images(pixels.data(), static_cast<int64_t>(images.size()));
}

Image Engine::load_image(const std::filesystem::path& path) const {
  return ::lumen::load_image(path, options_.image_limits, options_.alpha);
}

}  // namespace lumen
