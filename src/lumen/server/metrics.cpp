#include "lumen/server/metrics.h"

#include <charconv>

namespace lumen::server {

namespace {
// Shortest text that reads back as the same double (0.025, not 0.025000000000000001).
std::string number(double v) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, result.ptr);
}

void counter(std::string& out, const std::string& name, const std::string& help, uint64_t value) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " + std::to_string(value) + "\n";
}

std::vector<double> seconds_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}
}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard lock(mutex_);
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

ServerMetrics::ServerMetrics()
    : request_seconds(seconds_buckets()),
      first_token_seconds(seconds_buckets()),
      decode_batch_size({1, 2, 4, 8, 16, 32, 64, 128}) {}

void ServerMetrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(requests_mutex_);
  ++requests_[{endpoint, status}];
}

uint64_t ServerMetrics::requests(const std::string& endpoint, int status) const {
  std::lock_guard lock(requests_mutex_);
  auto it = requests_.find({endpoint, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string ServerMetrics::render(const std::vector<Gauge>& gauges) const {
  std::string out;
  out += "# HELP lumen_http_requests_total HTTP requests served, by endpoint and status.\n"
         "# TYPE lumen_http_requests_total counter\n";
  {
    std::lock_guard lock(requests_mutex_);
    for (const auto& [key, value] : requests_) {
      out += "lumen_http_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) +
             "\"} " + std::to_string(value) + "\n";
    }
  }
  counter(out, "lumen_prompt_tokens_total", "Prompt positions (image tokens included) of admitted sequences.",
          prompt_tokens);
  counter(out, "lumen_completion_tokens_total", "Tokens generated.", completion_tokens);
  counter(out, "lumen_image_cache_hits_total", "Images whose embeddings came from the image cache.", image_cache_hits);
  counter(out, "lumen_image_cache_misses_total", "Images that had to be encoded.", image_cache_misses);
  counter(out, "lumen_images_encoded_total", "Images run through the vision tower.", images_encoded);
  counter(out, "lumen_image_encode_batches_total", "Vision tower calls (each encodes a batch of images).",
          image_encode_batches);
  counter(out, "lumen_prefix_cache_hits_total", "Sequences that started from a held KV-cache prefix.",
          prefix_cache_hits);
  counter(out, "lumen_prefix_reused_positions_total", "Prompt positions whose keys and values were reused.",
          prefix_reused_positions);
  counter(out, "lumen_decode_steps_total", "Batched decode steps.", decode_steps);
  counter(out, "lumen_decode_step_sequences_total", "Sequences advanced, summed over decode steps.",
          decode_step_sequences);
  counter(out, "lumen_sequences_cancelled_total", "Sequences stopped because the client disconnected.",
          sequences_cancelled);
  counter(out, "lumen_requests_rejected_total", "Requests refused with 429 or 503 (queue full, shutting down).",
          requests_rejected);
  request_seconds.render(out, "lumen_request_duration_seconds", "Chat completion latency, arrival to last byte.");
  first_token_seconds.render(out, "lumen_time_to_first_token_seconds", "Arrival to the first generated text.");
  decode_batch_size.render(out, "lumen_decode_batch_size", "Sequences per batched decode step.");
  for (const Gauge& g : gauges) {
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " gauge\n" + g.name + " " + number(g.value) + "\n";
  }
  return out;
}

void ServerMetrics::sequence_started(int64_t prompt_positions) {
  prompt_tokens += static_cast<uint64_t>(prompt_positions);
}

void ServerMetrics::prefix_reused(int64_t positions) {
  prefix_cache_hits += 1;
  prefix_reused_positions += static_cast<uint64_t>(positions);
}

void ServerMetrics::decode_step(int64_t sequences) {
  decode_steps += 1;
  decode_step_sequences += static_cast<uint64_t>(sequences);
  decode_batch_size.observe(static_cast<double>(sequences));
}

void ServerMetrics::token_sampled() { completion_tokens += 1; }

void ServerMetrics::first_text(double seconds_since_arrival) { first_token_seconds.observe(seconds_since_arrival); }

void ServerMetrics::sequence_cancelled() { sequences_cancelled += 1; }

}  // namespace lumen::server
