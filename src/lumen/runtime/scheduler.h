// BatchScheduler: continuous batching of generation across concurrent requests.
//
// One scheduler thread owns every running sequence. Each iteration it
//   1. admits queued sequences while fewer than max_sequences run (and their KV caches fit
//      max_kv_bytes), starting each from the longest held KV prefix (PrefixKvCache);
//   2. prefills up to prefill_chunk prompt positions, sequence by sequence;
//   3. runs ONE batched decode step for every sequence that has a token to feed, then samples
//      each sequence's next token with its own sampler;
//   4. retires finished and cancelled sequences, handing their slots to the prefix cache.
// Every prefill and decode runs on the engine's backend (Engine::device_model), over one KV
// cache of max_sequences + prefix_cache_entries slots of the model's whole context: each
// sequence owns a slot while it runs. On the CPU only the positions written take memory (and
// a freed slot's pages go back to the OS); on CUDA the slots are allocated up front.
// A request that arrives mid-generation therefore joins at the next iteration instead of
// waiting for the others to finish. Per sequence the token-by-token logic is the generator's
// TokenLoop (runtime/sequence.h): same sampling, stop strings, UTF-8-safe streaming and finish
// reasons, so a greedy request gets the same reply batched or alone.
//
// The server (server/) is one face of it: it queues requests, reads their SequenceStreams and
// counts what the SchedulerObserver reports. Errors are lumen::Error with a kind (kBusy,
// kUnavailable, kCancelled) the server maps to an HTTP status.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "lumen/runtime/image_cache.h"
#include "lumen/runtime/prefix_cache.h"
#include "lumen/runtime/sequence_stream.h"

namespace lumen {

struct SchedulerOptions {
  int max_sequences = 32;                   // sequences decoded together
  int max_queued = 64;                      // waiting beyond max_sequences; one more is refused (kBusy)
  int64_t prefill_chunk = 512;              // prompt positions prefilled per iteration
  uint64_t prefix_cache_bytes = 64ull << 20;  // held KV caches of finished sequences
  int prefix_cache_entries = 8;             // finished sequences' slots held at most
  uint64_t max_kv_bytes = 4ull << 30;       // KV caches of running sequences together
};

struct SequenceRequest {
  std::vector<int32_t> prompt_tokens;      // tokenizer output, one <image> marker per image
  std::vector<ContentHash> image_hashes;   // per image, in marker order
  std::vector<ImageEmbedding> images;      // per image, in the engine's backend memory
  GenerationOptions options;               // max_new_tokens, sampling, stop, ignore_eos
  std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now();
};

// What the scheduler reports as it works, for whoever counts it (the server's /metrics). Called
// on the scheduler thread; a method left as it is ignores its event.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void sequence_started(int64_t prompt_positions) {}  // admitted, before any prefill
  virtual void prefix_reused(int64_t positions) {}            // started from a held KV prefix
  virtual void decode_step(int64_t sequences) {}              // one batched decode step
  virtual void token_sampled() {}
  virtual void first_text(double seconds_since_arrival) {}    // a sequence's first text piece
  virtual void sequence_cancelled() {}                        // its stream was cancelled
};

class BatchScheduler {
 public:
  // `engine` and `observer` must outlive the scheduler.
  BatchScheduler(const Engine& engine, const SchedulerOptions& options, SchedulerObserver& observer);
  ~BatchScheduler();  // stop()
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Queues a sequence and returns the stream its text arrives on. The prompt must already be
  // validated (count_prompt_positions). Throws Error: kBusy when max_queued sequences are
  // waiting, kUnavailable after stop(). A stream whose client went away (cancel()) fails with
  // kCancelled at the next step.
  std::shared_ptr<SequenceStream> submit(SequenceRequest request);

  // Fails everything queued or running (kUnavailable) and joins the thread. Idempotent.
  void stop();

  size_t queued() const;
  size_t running() const { return running_; }
  uint64_t running_kv_bytes() const { return running_kv_bytes_; }
  const PrefixKvCache& prefix_cache() const { return prefix_cache_; }

 private:
  struct Sequence;
  void loop();
  void start(Sequence& seq);
  void prefill(std::vector<std::unique_ptr<Sequence>>& running);
  void decode(std::vector<std::unique_ptr<Sequence>>& running);
  // Runs the sequence's token loop on one row of logits [vocab].
  void consume_logits(Sequence& seq, float* logits);
  void finish(Sequence& seq);
  uint64_t kv_bytes(int64_t capacity) const;
  int64_t take_slot();
  void free_slot(int64_t slot);

  const Engine& engine_;
  const SchedulerOptions options_;
  SchedulerObserver& observer_;
  KvCache pool_;                    // before prefix_cache_, which holds some of its slots
  std::vector<int64_t> free_slots_;  // scheduler thread only
  PrefixKvCache prefix_cache_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> queue_;
  bool stopping_ = false;
  std::atomic<size_t> running_{0};
  std::atomic<uint64_t> running_kv_bytes_{0};
  std::thread thread_;
};

}  // namespace lumen
