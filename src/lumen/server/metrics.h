// The server's counters, gauges and latency histograms, rendered in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics. Everything here is thread-safe: request
// threads, the scheduler (through the SchedulerObserver it reports to) and the image encoder all
// record into one ServerMetrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lumen/runtime/scheduler.h"

namespace lumen::server {

// Cumulative histogram with fixed upper bounds (Prometheus "le" buckets, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends "# TYPE", the _bucket lines, _sum and _count for `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// A value read when /metrics is rendered (queue depth, cache bytes).
struct Gauge {
  std::string name, help;
  double value = 0;
};

class ServerMetrics final : public SchedulerObserver {
 public:
  ServerMetrics();

  // HTTP requests by endpoint and status: lumen_http_requests_total{endpoint,status}.
  void count_request(const std::string& endpoint, int status);
  uint64_t requests(const std::string& endpoint, int status) const;

  std::atomic<uint64_t> prompt_tokens{0};           // positions prefilled or reused, images included
  std::atomic<uint64_t> completion_tokens{0};       // tokens sampled
  std::atomic<uint64_t> image_cache_hits{0};        // images whose embeddings were cached
  std::atomic<uint64_t> image_cache_misses{0};      // images that had to be encoded
  std::atomic<uint64_t> images_encoded{0};
  std::atomic<uint64_t> image_encode_batches{0};    // vision-tower calls (several images each)
  std::atomic<uint64_t> prefix_cache_hits{0};       // sequences that started from a held KV prefix
  std::atomic<uint64_t> prefix_reused_positions{0}; // prompt positions not recomputed thanks to it
  std::atomic<uint64_t> decode_steps{0};            // batched decode steps
  std::atomic<uint64_t> decode_step_sequences{0};   // sequences summed over those steps
  std::atomic<uint64_t> sequences_cancelled{0};     // clients that went away mid-generation
  std::atomic<uint64_t> requests_rejected{0};       // 429/503: queue full or shutting down

  Histogram request_seconds;      // arrival to last byte, chat completions
  Histogram first_token_seconds;  // arrival to first generated text
  Histogram decode_batch_size;    // sequences per decode step

  // What the scheduler reports, counted into the fields above.
  void sequence_started(int64_t prompt_positions) override;
  void prefix_reused(int64_t positions) override;
  void decode_step(int64_t sequences) override;
  void token_sampled() override;
  void first_text(double seconds_since_arrival) override;
  void sequence_cancelled() override;

  // The whole exposition, with `gauges` appended as gauge metrics.
  std::string render(const std::vector<Gauge>& gauges) const;

 private:
  mutable std::mutex requests_mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
};

}  // namespace lumen::server
