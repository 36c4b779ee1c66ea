// A loaded model ready to run: the Imp model, its tokenizer and its image preprocessing.
// This is what the CLI and the server hold.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "lumen/backend/backend.h"
#include "lumen/models/imp_device_model.h"
#include "lumen/models/imp_model.h"
#include "lumen/text/chat_template.h"
#include "lumen/text/tokenizer.h"
#include "lumen/vision/image.h"
#include "lumen/vision/image_decode.h"

namespace lumen {

struct EngineOptions {
  ImageLimits image_limits;  // pixel bound checked before any image is decoded
  // Transparency at decode: dropped as Image.convert("RGB") does (the reference), or
  // composited onto white (--alpha white).
  AlphaMode alpha = AlphaMode::kDrop;
  // Where the model runs: "cpu" (the CPU backend), or "cuda[:N]" (that GPU; Engine::load throws
  // "lumen was built without CUDA" / "no CUDA device" when it cannot).
  std::string device = "cpu";
  // Activation dtype on a device: kU8 follows the weights; kF32/kF16/kBF16 force one.
  DType device_activation = DType::kU8;
  // Weight formats in memory (--quant, --quant-vision, --quant-llm); unset parts stay as stored.
  QuantOptions quant;
};

class Engine {
 public:
  // Throws Error: missing directory, no model in it, bad config, missing/mis-shaped tensors,
  // incomplete or invalid tokenizer files.
  static std::unique_ptr<Engine> load(const std::filesystem::path& dir, const EngineOptions& options = {});
  // The same on a backend the caller made (which must outlive the engine): tests run the whole
  // runtime on a recording backend this way. options.device is ignored.
  static std::unique_ptr<Engine> load(const std::filesystem::path& dir, const EngineOptions& options,
                                      Backend& backend);

  const ImpModel& model() const { return *model_; }
  // A model directory without tokenizer files (tokenizer.model, tokenizer.json, vocab.json +
  // merges.txt) still loads: it runs prompts given as token ids (`lumen generate --prompt-ids`),
  // and its replies are token ids without text. tokenizer() then throws Error saying so.
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const Tokenizer& tokenizer() const;
  // A rendered prompt (its images as "<image>" in the text) as the model's input ids, with one
  // config().image_token_id marker per image:
  //  - Imp (LLaVA's code, tokenizer_image_token in mm_utils.py): the text is cut at each
  //    "<image>", each piece tokenized on its own (so a SentencePiece piece gets its own prefix),
  //    and a BOS the tokenizer puts first kept only before the first piece;
  //  - llava-hf (LlavaProcessor): the whole text is tokenized, "<image>" being an added token.
  // Throws Error when there is no tokenizer.
  std::vector<int32_t> encode_prompt(std::string_view prompt) const;
  // The conversation format (text/chat_template.h) the checkpoint names, else its family's.
  ChatTemplate chat_template() const;
  const EngineOptions& options() const { return options_; }
  // The forward pass on the engine's backend: every prefill, decode and image encode runs here.
  DeviceImpModel& device_model() const { return *device_model_; }
  Backend& backend() const { return *backend_; }
  const std::filesystem::path& dir() const { return dir_; }

  // The checkpoint's image processor (config().image_processor). Imp: pads to a square first
  // when config.json says image_aspect_ratio "pad" (LLaVA's expand2square), then squash-resizes
  // to the tower's input size with PIL's bicubic filter and normalises with SigLIP's mean =
  // std = 0.5. LLaVA: CLIPImageProcessor's shortest-edge resize, centre crop and mean / std.
  // -> [3, S, S]. Throws Error (kLimitExceeded) when an intermediate image (the padded square,
  // the resized one) is over options().image_limits.max_pixels.
  std::vector<float> preprocess(const Image& image) const;
  // Preprocesses and encodes images in one batch: one embedding per image, in the backend's
  // memory (models/imp_device_model.h DeviceImageEmbedding).
  std::vector<ImageEmbedding> encode_images(std::span<const Image> images) const;
  // Decodes a file within options().image_limits, with options().alpha. Throws Error.
  Image load_image(const std::filesystem::path& path) const;

 private:
  std::filesystem::path dir_;
  EngineOptions options_;
  std::unique_ptr<ImpModel> model_;
  std::unique_ptr<Backend> owned_backend_;        // before device_model_: destroyed after it
  Backend* backend_ = nullptr;
  std::unique_ptr<DeviceImpModel> device_model_;
  std::unique_ptr<Tokenizer> tokenizer_;  // null: the directory has no tokenizer files
};

}  // namespace lumen
