#include "lumen/runtime/scheduler.h"

#include <malloc.h>

#include <algorithm>

#include "lumen/core/error.h"
#include "lumen/runtime/sequence.h"

namespace lumen {

namespace {
double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

constexpr const char* kShuttingDown = "the server is shutting down";

std::exception_ptr shutting_down() { return std::make_exception_ptr(Error(kShuttingDown, ErrorKind::kUnavailable)); }

// Slots of the scheduler's cache: one per running sequence and per held conversation. A backend
// that allocates memory when asked (CUDA) gets no more slots of the whole context than
// max_kv_bytes holds (at least one); on the CPU only written positions take memory, so the
// byte budget is enforced at admission instead.
int64_t pool_slots(const Engine& engine, const SchedulerOptions& options) {
  const int64_t wanted = options.max_sequences + std::max(0, options.prefix_cache_entries);
  if (engine.backend().allocates_lazily()) return wanted;
  const PhiConfig& c = engine.model().config().text;
  const uint64_t slot_bytes = static_cast<uint64_t>(c.num_layers) * static_cast<uint64_t>(c.max_positions) *
                              static_cast<uint64_t>(c.num_kv_heads * c.head_dim()) * 2 *
                              dtype_size(engine.device_model().kv_dtype());
  const auto fit = static_cast<int64_t>(options.max_kv_bytes / std::max<uint64_t>(slot_bytes, 1));
  return std::max<int64_t>(1, std::min(wanted, fit));
}

}  // namespace

struct BatchScheduler::Sequence {
  enum class State { kQueued, kPrefill, kDecode, kDone };

  SequenceRequest request;
  std::shared_ptr<SequenceStream> stream = std::make_shared<SequenceStream>();
  State state = State::kQueued;

  std::vector<PrefixKey> keys;  // one per unit in the cache: prompt units, then fed tokens
  DeviceBuffer embeds;          // spliced prompt [positions, hidden] fp32 (backend), freed after prefill
  int64_t positions = 0;        // prompt positions
  int64_t budget = 0;           // tokens that may be sampled
  int64_t reused = 0;           // prompt positions taken from a held cache
  int64_t slot = -1;            // its slot of the scheduler's KV cache, once started
  uint64_t cache_bytes = 0;

  std::unique_ptr<TokenLoop> loop;  // made by start(); its token() is fed at the next decode step
  TextCallback to_stream;           // hands the loop's final text to the stream
  bool first_text = false;
};

BatchScheduler::BatchScheduler(const Engine& engine, const SchedulerOptions& options, SchedulerObserver& observer)
    : engine_(engine),
      options_(options),
      observer_(observer),
      pool_(engine.device_model().make_cache(pool_slots(engine, options),
                                             engine.model().config().text.max_positions)),
      prefix_cache_(pool_, engine.model().tokens_per_image(), options.prefix_cache_bytes,
                    static_cast<size_t>(std::max(0, options.prefix_cache_entries))) {
  for (int64_t slot = pool_.slots() - 1; slot >= 0; --slot) free_slots_.push_back(slot);
  thread_ = std::thread([this] { loop(); });
}

int64_t BatchScheduler::take_slot() {
  if (free_slots_.empty()) {
    // Every slot is running or held: the oldest held conversation gives its slot up.
    std::optional<int64_t> held = prefix_cache_.evict_oldest();
    if (!held) fail_kind(ErrorKind::kInternal, "scheduler: no free KV-cache slot");
    pool_.discard(*held);
    return *held;
  }
  const int64_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void BatchScheduler::free_slot(int64_t slot) {
  if (slot < 0) return;
  pool_.discard(slot);
  free_slots_.push_back(slot);
}

BatchScheduler::~BatchScheduler() { stop(); }

void BatchScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  for (auto& seq : queue_) seq->stream->fail(shutting_down());
  queue_.clear();
}

size_t BatchScheduler::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

uint64_t BatchScheduler::kv_bytes(int64_t capacity) const {
  const PhiConfig& c = engine_.model().config().text;
  return static_cast<uint64_t>(c.num_layers) * static_cast<uint64_t>(capacity) *
         static_cast<uint64_t>(c.num_kv_heads * c.head_dim()) * 2 * dtype_size(pool_.dtype());
}

std::shared_ptr<SequenceStream> BatchScheduler::submit(SequenceRequest request) {
  auto seq = std::make_unique<Sequence>();
  const ImpConfig& config = engine_.model().config();
  request.options.sampling.validate();
  seq->positions = count_prompt_positions(engine_, request.prompt_tokens, request.images.size());
  seq->budget = std::min<int64_t>(request.options.max_new_tokens, config.text.max_positions - seq->positions);
  seq->request = std::move(request);
  auto stream = seq->stream;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) fail_kind(ErrorKind::kUnavailable, kShuttingDown);
    // Running sequences leave the queue when admitted, so capacity counts both.
    if (running_ + queue_.size() >= static_cast<size_t>(options_.max_sequences + options_.max_queued)) {
      fail_kind(ErrorKind::kBusy, "the server is at capacity (", options_.max_sequences, " running, ", queue_.size(),
                " queued); retry later");
    }
    queue_.push_back(std::move(seq));
  }
  wake_.notify_one();
  return stream;
}

void BatchScheduler::loop() {
  std::vector<std::unique_ptr<Sequence>> running;
  bool worked_since_trim = false;
  for (;;) {
    std::vector<std::unique_ptr<Sequence>> admitted;
    {
      std::unique_lock lock(mutex_);
      if (running.empty() && queue_.empty() && worked_since_trim) {
        // Going idle after a burst: hand freed KV caches and scratch back to the OS, so the
        // resident size after load returns to its steady level instead of keeping the peak.
        lock.unlock();
        malloc_trim(0);
        lock.lock();
        worked_since_trim = false;
      }
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running.empty(); });
      if (stopping_) break;
      uint64_t kv = running_kv_bytes_;
      const auto slots = static_cast<size_t>(std::min<int64_t>(options_.max_sequences, pool_.slots()));
      while (!queue_.empty() && running.size() + admitted.size() < slots) {
        const Sequence& next = *queue_.front();
        const uint64_t need = kv_bytes(next.positions + std::max<int64_t>(next.budget, 0));
        // The first sequence always runs, so one larger than the whole budget still makes progress.
        if (kv + need > options_.max_kv_bytes && !(running.empty() && admitted.empty())) break;
        kv += need;
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    worked_since_trim = true;
    for (auto& seq : admitted) {
      try {
        start(*seq);
      } catch (...) {
        seq->stream->fail(std::current_exception());
        seq->state = Sequence::State::kDone;
      }
      running_kv_bytes_ += seq->cache_bytes;
      running.push_back(std::move(seq));
    }
    running_ = running.size();

    for (auto& seq : running) {
      if (seq->state != Sequence::State::kDone && seq->stream->cancelled()) {
        observer_.sequence_cancelled();
        seq->loop->cancel();
        finish(*seq);
      }
    }
    try {
      prefill(running);
      decode(running);
    } catch (...) {
      // A failed step leaves the caches of its sequences unknown: fail every running one.
      const std::exception_ptr error = std::current_exception();
      for (auto& seq : running) {
        if (seq->state == Sequence::State::kDone) continue;
        seq->stream->fail(error);
        seq->state = Sequence::State::kDone;
        free_slot(seq->slot);
        seq->slot = -1;
      }
    }

    // Retire: finished slots go to the prefix cache. Only slots holding the whole prompt:
    // their keys (prompt units, then every fed token) describe them exactly.
    for (auto& seq : running) {
      if (seq->state != Sequence::State::kDone) continue;
      running_kv_bytes_ -= seq->cache_bytes;
      seq->cache_bytes = 0;
      if (seq->slot < 0) continue;
      // free_slot never allocates (free_slots_ was filled with every slot at construction).
      if (pool_.length(seq->slot) >= seq->positions && seq->positions > 0) {
        try {
          for (int64_t freed : prefix_cache_.release(std::move(seq->keys), seq->slot)) free_slot(freed);
        } catch (...) {  // out of memory holding it: the slot is simply not kept
          free_slot(seq->slot);
        }
      } else {
        free_slot(seq->slot);
      }
      seq->slot = -1;
    }
    std::erase_if(running, [](const auto& seq) { return seq->state == Sequence::State::kDone; });
    running_ = running.size();
  }
  for (auto& seq : running) {
    if (seq->state != Sequence::State::kDone) seq->stream->fail(shutting_down());
  }
  running_ = 0;
  running_kv_bytes_ = 0;
}

void BatchScheduler::start(Sequence& seq) {
  const ImpModel& model = engine_.model();
  const ImpConfig& config = model.config();
  SequenceRequest& request = seq.request;
  seq.loop = std::make_unique<TokenLoop>(engine_, request.options, request.prompt_tokens, seq.budget);
  seq.to_stream = [this, &seq](std::string_view piece) {
    if (!seq.first_text) {
      seq.first_text = true;
      observer_.first_text(seconds_since(seq.request.arrival));
    }
    seq.stream->append(piece);
    return true;
  };
  observer_.sequence_started(seq.positions);
  if (seq.loop->finished()) {  // the prompt fills the context: nothing to generate ("length")
    finish(seq);
    return;
  }

  seq.embeds = splice_prompt_embeddings(engine_, request.prompt_tokens, request.images);
  seq.keys = prefix_keys(request.prompt_tokens, config.image_token_id, request.image_hashes);

  seq.slot = take_slot();  // retired with the sequence, whatever happens next
  pool_.truncate(seq.slot, 0);
  // At least the last prompt position is always run: its logits pick the first token.
  if (auto reuse = prefix_cache_.acquire(seq.keys, seq.positions - 1, seq.slot)) {
    if (reuse->slot != seq.slot) {  // a held conversation handed over whole
      free_slot(seq.slot);
      seq.slot = reuse->slot;
    }
    seq.reused = reuse->positions;
    observer_.prefix_reused(seq.reused);
  }
  seq.cache_bytes = kv_bytes(seq.positions + seq.budget);
  seq.state = Sequence::State::kPrefill;
}

void BatchScheduler::prefill(std::vector<std::unique_ptr<Sequence>>& running) {
  const ImpConfig& config = engine_.model().config();
  const int64_t d = config.text.hidden_size;
  int64_t allowance = std::max<int64_t>(1, options_.prefill_chunk);
  std::vector<float> logits(static_cast<size_t>(config.text.vocab_size));
  for (auto& seq_ptr : running) {
    Sequence& seq = *seq_ptr;
    if (seq.state != Sequence::State::kPrefill) continue;
    if (allowance <= 0) break;
    const int64_t done = pool_.length(seq.slot);
    const int64_t n = std::min(seq.positions - done, allowance);
    const bool last = done + n == seq.positions;
    engine_.device_model().prefill(seq.embeds.as<const float>() + done * d, n, pool_, seq.slot,
                                   last ? logits.data() : nullptr, nullptr, /*embeds_on_device=*/true);
    allowance -= n;
    if (!last) continue;
    seq.embeds.reset();
    consume_logits(seq, logits.data());
  }
}

void BatchScheduler::decode(std::vector<std::unique_ptr<Sequence>>& running) {
  std::vector<Sequence*> batch;
  for (auto& seq : running) {
    if (seq->state == Sequence::State::kDecode) batch.push_back(seq.get());
  }
  if (batch.empty()) return;
  const int64_t vocab = engine_.model().config().text.vocab_size;
  const int64_t n = static_cast<int64_t>(batch.size());
  std::vector<int32_t> tokens, slots;
  for (const Sequence* seq : batch) {
    tokens.push_back(seq->loop->token());
    slots.push_back(static_cast<int32_t>(seq->slot));
  }
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  // Every weight matrix is read once for the whole batch; attention reads each slot's own keys.
  engine_.device_model().decode(tokens.data(), slots.data(), n, pool_, logits.data(), nullptr);
  observer_.decode_step(n);
  for (int64_t b = 0; b < n; ++b) {
    Sequence& seq = *batch[static_cast<size_t>(b)];
    seq.keys.push_back(static_cast<uint32_t>(seq.loop->token()));
    consume_logits(seq, logits.data() + b * vocab);
  }
}

void BatchScheduler::consume_logits(Sequence& seq, float* logits) {
  const size_t vocab = static_cast<size_t>(engine_.model().config().text.vocab_size);
  const TokenLoop::Next next = seq.loop->step({logits, vocab}, seq.to_stream);
  observer_.token_sampled();
  if (next == TokenLoop::Next::kFinished) return finish(seq);
  seq.state = Sequence::State::kDecode;
}

void BatchScheduler::finish(Sequence& seq) {
  seq.state = Sequence::State::kDone;
  if (seq.loop->finish_reason() == "cancelled") {
    seq.stream->fail(std::make_exception_ptr(Error("the client closed the connection", ErrorKind::kCancelled)));
    return;
  }
  SequenceUsage usage;
  usage.prompt_tokens = seq.positions;
  usage.completion_tokens = seq.loop->sampled();
  usage.cached_tokens = seq.reused;
  seq.stream->finish(seq.loop->finish_reason(), usage);
}

}  // namespace lumen
