#include "lumen/server/image_encoder.h"

#include <algorithm>

#include "lumen/server/api_error.h"

namespace lumen::server {

BatchedImageEncoder::BatchedImageEncoder(const Engine& engine, ImageEmbeddingCache& cache, ServerMetrics& metrics,
                                         int max_batch, size_t max_pending)
    : engine_(engine),
      cache_(cache),
      metrics_(metrics),
      max_batch_(static_cast<size_t>(std::max(1, max_batch))),
      max_pending_(std::max<size_t>(1, max_pending)) {
  worker_ = std::thread([this] { loop(); });
}

BatchedImageEncoder::~BatchedImageEncoder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  for (Job& job : queue_) {
    job.result.set_exception(std::make_exception_ptr(ApiError(503, "the server is shutting down")));
  }
}

size_t BatchedImageEncoder::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

ImageEmbedding BatchedImageEncoder::encode(const ContentHash& hash, std::vector<float> pixels) {
  std::shared_future<ImageEmbedding> result;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw ApiError(503, "the server is shutting down");
    if (auto it = in_flight_.find(hash); it != in_flight_.end()) {
      result = it->second;
    } else {
      if (queue_.size() >= max_pending_) {
        throw ApiError(429, "too many images are waiting to be encoded; retry later", std::nullopt,
                       "image_queue_full");
      }
      Job job{hash, std::move(pixels), {}};
      result = job.result.get_future().share();
      in_flight_.emplace(hash, result);
      queue_.push_back(std::move(job));
    }
  }
  wake_.notify_one();
  return result.get();  // rethrows the worker's error
}

void BatchedImageEncoder::loop() {
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // [n, 3, S, S] -> n embeddings of [tokens_per_image, hidden], left in the engine's backend
    std::vector<float> pixels;
    pixels.reserve(batch.size() * batch.front().pixels.size());
    for (const Job& job : batch) pixels.insert(pixels.end(), job.pixels.begin(), job.pixels.end());
    std::exception_ptr error;
    std::vector<ImageEmbedding> embeds;
    try {
      embeds = engine_.device_model().encode_images_to_device(pixels.data(), static_cast<int64_t>(batch.size()));
      if (embeds.size() != batch.size()) throw ApiError(500, "image encoder returned a wrong count");
    } catch (...) {
      error = std::current_exception();
    }
    metrics_.image_encode_batches += 1;
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < batch.size(); ++i) {
      Job& job = batch[i];
      if (error) {
        job.result.set_exception(error);
      } else {
        ImageEmbedding embedding = std::move(embeds[i]);
        cache_.insert(job.hash, embedding);
        metrics_.images_encoded += 1;
        job.result.set_value(std::move(embedding));
      }
      in_flight_.erase(job.hash);
    }
  }
}

}  // namespace lumen::server
