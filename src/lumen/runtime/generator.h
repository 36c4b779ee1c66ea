// Turns a prompt and images into generated text: tokenise, splice image embeddings in place of
// each <image> token, prefill, then decode token by token with sampling, stopping at eos, a
// stop string or the token budget (the token loop is runtime/sequence.h's TokenLoop, which the
// batch scheduler runs too).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/sampler.h"

namespace lumen {

class DecoderRun;  // runtime/decoder_run.h

struct GenerationOptions {
  int64_t max_new_tokens = 256;
  SamplingParams sampling;
  bool ignore_eos = false;
  std::vector<std::string> stop;  // stop strings; the text ends before the first one
  bool keep_logits = false;       // record the first and last step's full logits
  // Called with each sampled token and the logits the sampler left (the caption embedder's
  // confidences): as the model gave them for greedy decoding; after the repetition penalty and
  // temperature otherwise. May be empty.
  std::function<void(int32_t token, std::span<const float> logits)> on_token;
};

struct GenerationTimings {
  double image_encode_ms = 0;
  double prefill_ms = 0;
  double decode_ms = 0;
  int64_t prompt_positions = 0;   // after image splicing
  int64_t cached_positions = 0;   // leading prompt positions reused, not prefilled (generate_continuing)
  int64_t images = 0;
};

struct GenerationResult {
  std::vector<int32_t> prompt_tokens;  // tokenizer output, image markers included
  std::vector<int32_t> tokens;         // generated ids (eos included if it ended the reply)
  std::string text;                    // decoded reply, without special tokens or stop string
  std::string finish_reason;           // "stop" (eos or stop string), "length" or "cancelled"
  GenerationTimings timings;
  std::vector<float> first_logits, last_logits;  // with keep_logits
};

// Receives each new piece of reply text as soon as it is final. Return false to cancel.
using TextCallback = std::function<bool(std::string_view piece)>;

// The prompt's positions after splicing, checked: every <image> marker has an image and vice
// versa, and the total fits the model's context. Throws Error.
int64_t count_prompt_positions(const Engine& engine, std::span<const int32_t> prompt_tokens, size_t n_images);

// The input embeddings [positions, hidden] fp32 of a prompt, in the engine's backend memory:
// each text token's row of the embedding table, and in place of the k-th <image> marker the
// k-th image's rows, copied device to device. Throws Error (kInternal) when the images do not
// match the markers.
DeviceBuffer splice_prompt_embeddings(const Engine& engine, std::span<const int32_t> prompt_tokens,
                                      std::span<const ImageEmbedding> images);
// The same into `backend`'s memory, where the images must be (a test's model on another device).
DeviceBuffer splice_prompt_embeddings(const ImpModel& model, Backend& backend, std::span<const int32_t> prompt_tokens,
                                      std::span<const ImageEmbedding> images);

// Runs one request whose images are already encoded (one embedding per <image> marker, in
// order): callers that ask several questions about one image encode it once. Throws Error like
// generate().
GenerationResult generate_from_embeddings(const Engine& engine, std::vector<int32_t> prompt_tokens,
                                          std::span<const ImageEmbedding> images, const GenerationOptions& options,
                                          const TextCallback& on_text = {});

// Runs one request on a decoder kept from an earlier one (a chat session, runtime/chat_session.h)
// whose first positions are those of prompt_tokens[0, cached_tokens): forgets any positions
// after them, prefills only the rest of the prompt (at least one token), then samples and
// decodes as generate_from_embeddings does. `images` holds every image of the prompt, in
// marker order. Afterwards the decoder holds the prompt and result.tokens but the last.
// Throws Error like generate_from_embeddings.
GenerationResult generate_continuing(const Engine& engine, DecoderRun& decoder, std::vector<int32_t> prompt_tokens,
                                     size_t cached_tokens, std::span<const ImageEmbedding> images,
                                     const GenerationOptions& options, const TextCallback& on_text = {});

// Runs one request. Throws Error for bad input (marker/image mismatch, context overflow,
// invalid sampling parameters).
GenerationResult generate(const Engine& engine, std::string_view prompt, std::span<const Image> images,
                          const GenerationOptions& options, const TextCallback& on_text = {});
// The same for a prompt given as token ids (image token ids mark the images, in order): for
// models without tokenizer files and for exact reproduction of a reference's prompt_ids. For
// LLaVA the ids may carry the processor's expansion (collapse_image_runs).
GenerationResult generate(const Engine& engine, std::vector<int32_t> prompt_tokens, std::span<const Image> images,
                          const GenerationOptions& options, const TextCallback& on_text = {});

// LLaVA's processor writes tokens_per_image image ids per image (LlavaProcessor expands each
// <image>); Lumen's runtime carries one marker per image and splices tokens_per_image rows in
// its place, which is the same sequence. For a config with prompt_expands_images, each run of
// k * tokens_per_image consecutive image ids becomes k markers; a run of one id is already a
// marker. Other configs get `ids` back as they are. Throws Error for a run of any other length.
std::vector<int32_t> collapse_image_runs(const ImpConfig& config, std::vector<int32_t> ids);

}  // namespace lumen
