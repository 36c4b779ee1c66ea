// The decoder of one request: the engine's forward pass with a one-slot KV cache on its
// backend. The generator and the chat session drive it; the batch scheduler (scheduler.h)
// batches many sequences over one multi-slot cache instead.
#pragma once

#include "lumen/models/imp_device_model.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/kv_cache.h"

namespace lumen {

class DecoderRun {
 public:
  // Room for `capacity` positions. Throws Error (e.g. device memory exhausted).
  DecoderRun(const Engine& engine, int64_t capacity);
  // n positions of input embeddings [n, hidden] in the backend's memory (splice_prompt_embeddings).
  // Of the last position, each skipped when null: logits -> host [vocab]; last_hidden -> host
  // [hidden], after the final norm (prompt-based embeddings).
  void prefill(const float* embeds, int64_t n, float* logits, float* last_hidden = nullptr);
  // One more token; its logits -> [vocab].
  void step(int32_t token, float* logits);
  // Positions filled, room for, and forgetting positions from `length` on (a chat session
  // keeps a run across turns and re-prefills from where a new prompt departs from it).
  int64_t length() const;
  int64_t capacity() const;
  void truncate(int64_t length);

 private:
  const Engine& engine_;
  KvCache cache_;
};

}  // namespace lumen
