// BatchedImageEncoder: one worker thread that runs the vision tower for every request. Request
// threads decode and preprocess their images themselves (in parallel), then queue the pixels
// here; the worker takes up to max_batch queued images at a time and encodes them in one call,
// so concurrent requests share each read of the tower's weights. Results go into the image
// cache, and two requests queueing the same image at once share one encode.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/image_cache.h"
#include "lumen/server/metrics.h"

namespace lumen::server {

class BatchedImageEncoder {
 public:
  BatchedImageEncoder(const Engine& engine, ImageEmbeddingCache& cache, ServerMetrics& metrics, int max_batch,
                      size_t max_pending);
  ~BatchedImageEncoder();  // stops the worker; queued callers get 503
  BatchedImageEncoder(const BatchedImageEncoder&) = delete;
  BatchedImageEncoder& operator=(const BatchedImageEncoder&) = delete;

  // The embedding [tokens_per_image, hidden] of the image whose file bytes hash to `hash`;
  // `pixels` is its Engine::preprocess output [3, S, S]. Joins an encode of the same hash
  // already queued, otherwise queues one, and blocks until it is done. Throws ApiError: 429
  // when max_pending images are already waiting, 503 when the encoder is stopping, or the
  // model's error.
  ImageEmbedding encode(const ContentHash& hash, std::vector<float> pixels);

  size_t pending() const;

 private:
  struct Job {
    ContentHash hash;
    std::vector<float> pixels;
    std::promise<ImageEmbedding> result;
  };
  void loop();

  const Engine& engine_;
  ImageEmbeddingCache& cache_;
  ServerMetrics& metrics_;
  const size_t max_batch_;
  const size_t max_pending_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::unordered_map<ContentHash, std::shared_future<ImageEmbedding>, ContentHashHasher> in_flight_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace lumen::server
