// A backend that forwards every op to the CPU backend and counts what passes through it, so a
// test can show that some piece of the runtime (the batch scheduler, the CLI's chat
// session, an embedder) runs its whole forward pass on the backend it was given. Counters are
// atomic: the server calls from its scheduler and image-encoder threads.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lumen/backend/backend.h"

namespace lumen::testing {

class RecordingBackend final : public Backend {
 public:
  RecordingBackend() : cpu_(make_cpu_backend()) {}

  // Positions written to a KV cache (sum of store_kv's n_tokens over every layer's call) and
  // the calls of the ops that only a forward pass makes.
  std::atomic<int64_t> kv_positions{0};
  std::atomic<int64_t> decode_attention_calls{0}, prefill_attention_calls{0}, linear_calls{0}, embed_calls{0};
  // The size of every transfer so far, in order: host -> backend, backend -> host, and within
  // the backend (a test shows which data crossed to the host and which stayed).
  struct Transfers {
    std::vector<size_t> uploads, downloads, device_copies;
  };
  Transfers transfers() const {
    std::lock_guard lock(transfers_mutex_);
    return transfers_;
  }
  void clear_transfers() {
    std::lock_guard lock(transfers_mutex_);
    transfers_ = {};
  }

  std::string name() const override { return "recording(" + cpu_->name() + ")"; }
  DType activation_dtype(DType weights, DType requested) const override {
    return cpu_->activation_dtype(weights, requested);
  }
  DType kv_cache_dtype(DType act, MatmulPrecision precision) const override {
    return cpu_->kv_cache_dtype(act, precision);
  }
  // Buffers are the CPU backend's but owned through this one, so they are released here.
  DeviceBuffer allocate(size_t bytes) override { return DeviceBuffer(this, cpu_->allocate(bytes).detach(), bytes); }
  void release(void* data, size_t bytes) noexcept override { cpu_->release(data, bytes); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    record(&Transfers::uploads, bytes);
    cpu_->copy_to_device(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    record(&Transfers::downloads, bytes);
    cpu_->copy_to_host(dst, src, bytes);
  }
  void copy_device(void* dst, const void* src, size_t bytes) override {
    record(&Transfers::device_copies, bytes);
    cpu_->copy_device(dst, src, bytes);
  }
  void synchronize() override { cpu_->synchronize(); }
  void discard(void* data, size_t bytes) noexcept override { cpu_->discard(data, bytes); }
  bool allocates_lazily() const override { return cpu_->allocates_lazily(); }
  DeviceWeight upload_weight(std::span<const WeightMatrix> parts, DType dtype) override {
    return cpu_->upload_weight(parts, dtype);
  }
  void fill_random(float* x, int64_t n, float scale, float offset, uint64_t seed) override {
    cpu_->fill_random(x, n, scale, offset, seed);
  }
  void linear(const void* x, DType x_dtype, int64_t m, const DeviceWeight& w, const float* bias, void* y,
              DType y_dtype, bool accumulate) override {
    ++linear_calls;
    cpu_->linear(x, x_dtype, m, w, bias, y, y_dtype, accumulate);
  }
  void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, void* y,
                  DType y_dtype) override {
    cpu_->layer_norm(x, rows, n, gamma, beta, eps, y, y_dtype);
  }
  void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y,
                DType y_dtype) override {
    cpu_->rms_norm(x, rows, n, gamma, eps, y, y_dtype);
  }
  void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out,
                        DType dtype) override {
    cpu_->gated_activation(act, gate_up, rows, inner, out, dtype);
  }
  void activation(Activation act, void* x, DType dtype, int64_t n) override { cpu_->activation(act, x, dtype, n); }
  void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n) override {
    cpu_->add_rows(y, table, rows, table_rows, n);
  }
  void convert(const void* x, DType from, void* y, DType to, int64_t n) override { cpu_->convert(x, from, y, to, n); }
  void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                 int64_t rotary_dim, const int32_t* positions, double theta) override {
    cpu_->rope_neox(x, dtype, n_tokens, token_stride, n_heads, head_dim, rotary_dim, positions, theta);
  }
  void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride, void* k_cache,
                void* v_cache, DType cache_dtype, int64_t kv_width, int64_t slot_stride, const int32_t* slots,
                const int32_t* positions) override {
    kv_positions += n_tokens;
    cpu_->store_kv(k, v, dtype, n_tokens, src_stride, k_cache, v_cache, cache_dtype, kv_width, slot_stride, slots,
                   positions);
  }
  void attention(const void* q, const void* k, const void* v, void* out, DType dtype, const AttentionShape& shape,
                 int64_t batch, int64_t q_batch_stride, int64_t kv_batch_stride, int64_t out_batch_stride) override {
    ++prefill_attention_calls;
    cpu_->attention(q, k, v, out, dtype, shape, batch, q_batch_stride, kv_batch_stride, out_batch_stride);
  }
  void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                        const AttentionShape& shape, int64_t batch, int64_t slot_stride, const int32_t* slots,
                        const int32_t* positions) override {
    ++decode_attention_calls;
    cpu_->attention_decode(q, k_cache, v_cache, out, dtype, shape, batch, slot_stride, slots, positions);
  }
  void embed(const int32_t* ids, int64_t n, const DeviceWeight& table, float* out) override {
    ++embed_calls;
    cpu_->embed(ids, n, table, out);
  }
  void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out) override {
    cpu_->argmax_rows(x, rows, n, out);
  }

 private:
  void record(std::vector<size_t> Transfers::*which, size_t bytes) {
    std::lock_guard lock(transfers_mutex_);
    (transfers_.*which).push_back(bytes);
  }

  std::unique_ptr<Backend> cpu_;
  mutable std::mutex transfers_mutex_;
  Transfers transfers_;
};

// Whether a run kept its images' embeddings (`image_bytes` each) in the backend's memory:
//  - no download of one or more images' worth (only logits, ids and hidden rows came back);
//  - no upload as large as one image but the pixels' own (`pixel_bytes` per image): text rows
//    are uploaded, image rows never are;
//  - at least `splices` device-to-device copies of one image (a prompt's splice).
inline ::testing::AssertionResult image_embeddings_stayed_on_backend(const RecordingBackend::Transfers& t,
                                                                     size_t image_bytes, size_t pixel_bytes,
                                                                     size_t splices) {
  for (size_t bytes : t.downloads) {
    if (bytes >= image_bytes && bytes % image_bytes == 0) {
      return ::testing::AssertionFailure() << "a download of " << bytes << " bytes: " << bytes / image_bytes
                                           << " image embeddings of " << image_bytes << " bytes came to the host";
    }
  }
  for (size_t bytes : t.uploads) {
    if (bytes >= image_bytes && bytes % pixel_bytes != 0) {
      return ::testing::AssertionFailure() << "an upload of " << bytes << " bytes, neither pixels (" << pixel_bytes
                                           << " per image) nor smaller than one image embedding (" << image_bytes
                                           << ")";
    }
  }
  const auto spliced = static_cast<size_t>(std::count(t.device_copies.begin(), t.device_copies.end(), image_bytes));
  if (spliced < splices) {
    return ::testing::AssertionFailure() << spliced << " device copies of an image embedding, expected at least "
                                         << splices;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lumen::testing
