#include "lumen/runtime/generator.h"

#include <algorithm>
#include <chrono>

#include "lumen/core/error.h"
#include "lumen/runtime/decoder_run.h"
#include "lumen/runtime/sequence.h"

namespace lumen {

namespace {
double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}
}  // namespace

int64_t count_prompt_positions(const Engine& engine, std::span<const int32_t> prompt_tokens, size_t n_images) {
  const ImpConfig& c = engine.model().config();
  const size_t markers = static_cast<size_t>(std::count(prompt_tokens.begin(), prompt_tokens.end(), c.image_token_id));
  if (markers > n_images) {
    fail("the prompt has ", markers, " <image> markers but only ", n_images, " image", n_images == 1 ? "" : "s",
         " were given");
  }
  if (markers < n_images) {
    fail(n_images, " images were given but the prompt has only ", markers, " <image> marker",
         markers == 1 ? "" : "s");
  }
  const int64_t positions = static_cast<int64_t>(prompt_tokens.size() - markers) +
                            static_cast<int64_t>(markers) * engine.model().tokens_per_image();
  if (positions == 0) fail("the prompt is empty");
  if (positions > c.text.max_positions) {
    if (markers == 0) {
      fail_kind(ErrorKind::kLimitExceeded, "the prompt needs ", positions, " positions, more than the model's context of ",
                c.text.max_positions);
    }
    fail_kind(ErrorKind::kLimitExceeded, "the prompt needs ", positions, " positions (", prompt_tokens.size() - markers,
              " text tokens + ", markers, " image", markers == 1 ? "" : "s", " x ", engine.model().tokens_per_image(),
              "), more than the model's context of ", c.text.max_positions);
  }
  return positions;
}

DeviceBuffer splice_prompt_embeddings(const Engine& engine, std::span<const int32_t> prompt_tokens,
                                      std::span<const ImageEmbedding> images) {
  return splice_prompt_embeddings(engine.model(), engine.backend(), prompt_tokens, images);
}

DeviceBuffer splice_prompt_embeddings(const ImpModel& model, Backend& be, std::span<const int32_t> prompt_tokens,
                                      std::span<const ImageEmbedding> images) {
  const int64_t d = model.config().text.hidden_size;
  const int32_t marker = model.config().image_token_id;
  const int64_t per_image = model.tokens_per_image();
  const size_t markers = static_cast<size_t>(std::count(prompt_tokens.begin(), prompt_tokens.end(), marker));
  if (markers != images.size()) {
    fail_kind(ErrorKind::kInternal, "the prompt has ", markers, " <image> markers for ", images.size(),
              " image embeddings");
  }
  const size_t text_tokens = prompt_tokens.size() - markers;
  const int64_t positions = static_cast<int64_t>(text_tokens) + static_cast<int64_t>(markers) * per_image;
  DeviceBuffer embeds = be.allocate(static_cast<size_t>(std::max<int64_t>(positions, 1) * d) * sizeof(float));
  auto* out = embeds.as<float>();

  // Every text row is looked up on the host (the checkpoint's own table, as the reference
  // does) into one buffer that outlives the uploads; images never leave the backend.
  std::vector<float> text(text_tokens * static_cast<size_t>(d));
  size_t text_rows = 0;
  int64_t row = 0;
  size_t run_start = 0, image_index = 0;
  auto flush_text = [&](size_t end) {
    if (end <= run_start) return;
    const auto n = static_cast<int64_t>(end - run_start);
    float* host = text.data() + text_rows * static_cast<size_t>(d);
    model.decoder().embed(prompt_tokens.data() + run_start, n, host);
    be.copy_to_device(out + row * d, host, static_cast<size_t>(n * d) * sizeof(float));
    text_rows += static_cast<size_t>(n);
    row += n;
  };
  for (size_t i = 0; i < prompt_tokens.size(); ++i) {
    if (prompt_tokens[i] != marker) continue;
    flush_text(i);
    const ImageEmbedding& image = images[image_index];
    if (!image || image->positions != per_image || image->width != d) {
      fail_kind(ErrorKind::kInternal, "image embedding ", image_index, " is not [", per_image, ", ", d, "]");
    }
    be.copy_device(out + row * d, image->data(), image->bytes());
    row += per_image;
    ++image_index;
    run_start = i + 1;
  }
  flush_text(prompt_tokens.size());
  return embeds;
}

GenerationResult generate(const Engine& engine, std::string_view prompt, std::span<const Image> images,
                          const GenerationOptions& options, const TextCallback& on_text) {
  return generate(engine, engine.encode_prompt(prompt), images, options, on_text);
}

std::vector<int32_t> collapse_image_runs(const ImpConfig& config, std::vector<int32_t> ids) {
  const int64_t per_image = config.tokens_per_image();
  if (!config.prompt_expands_images || per_image <= 1) return ids;
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size();) {
    if (ids[i] != config.image_token_id) {
      out.push_back(ids[i++]);
      continue;
    }
    size_t end = i;
    while (end < ids.size() && ids[end] == config.image_token_id) ++end;
    const int64_t run = static_cast<int64_t>(end - i);
    if (run != 1 && run % per_image != 0) {
      fail("the prompt has a run of ", run, " image token ids (", config.image_token_id, ") at position ", i,
           ": give one id per image, or ", per_image, " per image as the model's processor expands them");
    }
    out.insert(out.end(), static_cast<size_t>(run == 1 ? 1 : run / per_image), config.image_token_id);
    i = end;
  }
  return out;
}

GenerationResult generate(const Engine& engine, std::vector<int32_t> tokens, std::span<const Image> images,
                          const GenerationOptions& options, const TextCallback& on_text) {
  options.sampling.validate();
  tokens = collapse_image_runs(engine.model().config(), std::move(tokens));
  count_prompt_positions(engine, tokens, images.size());  // refuse before encoding images
  auto start = std::chrono::steady_clock::now();
  const std::vector<ImageEmbedding> image_embeds = engine.encode_images(images);
  const double encode_ms = elapsed_ms(start);
  GenerationResult result = generate_from_embeddings(engine, std::move(tokens), image_embeds, options, on_text);
  result.timings.image_encode_ms = encode_ms;
  return result;
}

namespace {

// Drives the token loop (runtime/sequence.h) of one request: samples from `logits` (the last
// prompt position's), feeds each token back through `decoder`, and stops where the loop says.
// The last sampled token is never fed back: no forward pass runs for a token whose logits
// nobody reads, so the decoder ends up holding the prompt and tokens[:-1].
void decode_reply(const Engine& engine, DecoderRun& decoder, std::vector<float>& logits, int64_t budget,
                  const GenerationOptions& options, const TextCallback& on_text, GenerationResult& result) {
  TokenLoop loop(engine, options, result.prompt_tokens, budget);
  auto start = std::chrono::steady_clock::now();
  while (!loop.finished()) {
    if (options.keep_logits) {
      if (loop.sampled() == 0) result.first_logits = logits;
      result.last_logits = logits;
    }
    if (loop.step(logits, on_text) == TokenLoop::Next::kFinished) break;
    decoder.step(loop.token(), logits.data());
  }
  result.timings.decode_ms = elapsed_ms(start);
  result.tokens.assign(loop.tokens().begin(), loop.tokens().end());
  result.finish_reason = loop.finish_reason();
  result.text = loop.take_text();
}

// Positions a run of prompt tokens covers (an <image> marker covers tokens_per_image).
int64_t positions_of(const Engine& engine, std::span<const int32_t> tokens) {
  const int32_t marker = engine.model().config().image_token_id;
  const int64_t markers = std::count(tokens.begin(), tokens.end(), marker);
  return static_cast<int64_t>(tokens.size()) - markers + markers * engine.model().tokens_per_image();
}

}  // namespace

GenerationResult generate_from_embeddings(const Engine& engine, std::vector<int32_t> prompt_tokens,
                                          std::span<const ImageEmbedding> images, const GenerationOptions& options,
                                          const TextCallback& on_text) {
  options.sampling.validate();
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  const ImpModel& model = engine.model();
  const ImpConfig& config = model.config();
  const int64_t vocab = config.text.vocab_size;

  GenerationResult result;
  result.prompt_tokens = std::move(prompt_tokens);
  const int64_t positions = count_prompt_positions(engine, result.prompt_tokens, images.size());
  result.timings.prompt_positions = positions;
  result.timings.images = static_cast<int64_t>(images.size());

  const int64_t budget = std::min<int64_t>(options.max_new_tokens, config.text.max_positions - positions);
  DecoderRun decoder(engine, positions + std::max<int64_t>(budget, 0));  // CPU model or --device
  std::vector<float> logits(static_cast<size_t>(vocab));

  auto start = std::chrono::steady_clock::now();
  const DeviceBuffer embeds = splice_prompt_embeddings(engine, result.prompt_tokens, images);
  decoder.prefill(embeds.as<const float>(), positions, logits.data());
  result.timings.prefill_ms = elapsed_ms(start);

  decode_reply(engine, decoder, logits, budget, options, on_text, result);
  return result;
}

GenerationResult generate_continuing(const Engine& engine, DecoderRun& decoder, std::vector<int32_t> prompt_tokens,
                                     size_t cached_tokens, std::span<const ImageEmbedding> images,
                                     const GenerationOptions& options, const TextCallback& on_text) {
  options.sampling.validate();
  if (options.max_new_tokens < 0) fail("max_new_tokens must be >= 0");
  const ImpModel& model = engine.model();
  const ImpConfig& config = model.config();

  GenerationResult result;
  result.prompt_tokens = std::move(prompt_tokens);
  const int64_t positions = count_prompt_positions(engine, result.prompt_tokens, images.size());
  if (cached_tokens >= result.prompt_tokens.size()) {
    fail_kind(ErrorKind::kInternal, "a continued prompt needs at least one new token");
  }
  const std::span<const int32_t> all(result.prompt_tokens);
  const int64_t cached = positions_of(engine, all.first(cached_tokens));
  if (decoder.length() < cached) {
    fail_kind(ErrorKind::kInternal, "the decoder holds ", decoder.length(), " positions, not the ", cached, " reused");
  }
  const int64_t budget = std::min<int64_t>(options.max_new_tokens, config.text.max_positions - positions);
  if (decoder.capacity() < positions + std::max<int64_t>(budget, 0)) {
    fail_kind(ErrorKind::kInternal, "the decoder has room for ", decoder.capacity(), " positions, not ",
              positions + budget);
  }
  result.timings.prompt_positions = positions;
  result.timings.cached_positions = cached;
  result.timings.images = static_cast<int64_t>(images.size());

  // Only the part after the reused prefix is spliced and prefilled; its markers take the images
  // after those the prefix already holds.
  const std::span<const int32_t> rest = all.subspan(cached_tokens);
  const size_t images_before = static_cast<size_t>(
      std::count(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(cached_tokens), config.image_token_id));
  std::vector<float> logits(static_cast<size_t>(config.text.vocab_size));
  auto start = std::chrono::steady_clock::now();
  decoder.truncate(cached);
  const DeviceBuffer embeds = splice_prompt_embeddings(engine, rest, images.subspan(images_before));
  decoder.prefill(embeds.as<const float>(), positions - cached, logits.data());
  result.timings.prefill_ms = elapsed_ms(start);

  decode_reply(engine, decoder, logits, budget, options, on_text, result);
  return result;
}

}  // namespace lumen
