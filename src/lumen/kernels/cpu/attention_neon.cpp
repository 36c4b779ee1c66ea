// AArch64 Advanced SIMD attention for every Arm level: the portable path's online softmax
// (one task per (query, head), key tiles of 64, running maximum and sum), with the q.k dot
// products and the value accumulation four lanes at a time. All arithmetic is fp32; f16
// keys and values are widened exactly with fcvtl (ARMv8.0), exp() stays the C library's.
// Also the f16 KV-cache store (fcvtn).
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen::kernels {

namespace {

constexpr int64_t kTile = 64;

inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return f16_to_f32(*p); }

template <typename T>
inline float dot(const float* q, const T* k, int64_t d) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
  int64_t c = 0;
  for (; c + 8 <= d; c += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(q + c), load4(k + c));
    acc1 = vfmaq_f32(acc1, vld1q_f32(q + c + 4), load4(k + c + 4));
  }
  for (; c + 4 <= d; c += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(q + c), load4(k + c));
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; c < d; ++c) sum += q[c] * load1(k + c);
  return sum;
}

// acc[0, d) = acc * scale + p * v.
template <typename T>
inline void scale_add(float* acc, float scale, float p, const T* v, int64_t d) {
  int64_t c = 0;
  for (; c + 4 <= d; c += 4) vst1q_f32(acc + c, vfmaq_n_f32(vmulq_n_f32(vld1q_f32(acc + c), scale), load4(v + c), p));
  for (; c < d; ++c) acc[c] = acc[c] * scale + p * load1(v + c);
}

template <typename T>
void attention_tasks(const float* q, const T* k, const T* v, float* out, const AttentionShape& s, size_t begin,
                     size_t end) {
  const int64_t group = s.n_heads / s.n_kv_heads;
  const int64_t d = s.head_dim;
  float scores[kTile];
  thread_local std::vector<float> acc_buffer;
  if (acc_buffer.size() < static_cast<size_t>(d)) acc_buffer.resize(static_cast<size_t>(d));
  float* acc = acc_buffer.data();
  for (size_t task = begin; task < end; ++task) {
    const int64_t i = static_cast<int64_t>(task) / s.n_heads;
    const int64_t h = static_cast<int64_t>(task) % s.n_heads;
    const int64_t kvh = h / group;
    const float* qi = q + i * s.q_stride + h * d;
    const int64_t n_visible = s.causal ? std::min(s.n_keys, s.n_keys - s.n_queries + i + 1) : s.n_keys;
    float running_max = -std::numeric_limits<float>::infinity();
    float running_sum = 0.0f;
    std::fill(acc, acc + d, 0.0f);
    for (int64_t j0 = 0; j0 < n_visible; j0 += kTile) {
      const int64_t j1 = std::min(n_visible, j0 + kTile);
      float tile_max = -std::numeric_limits<float>::infinity();
      for (int64_t j = j0; j < j1; ++j) {
        scores[j - j0] = dot(qi, k + j * s.kv_stride + kvh * d, d) * s.scale;
        tile_max = std::max(tile_max, scores[j - j0]);
      }
      // What was accumulated so far, rescaled to the new maximum with the first key's update.
      const float new_max = std::max(running_max, tile_max);
      float correction = std::exp(running_max - new_max);
      running_sum *= correction;
      for (int64_t j = j0; j < j1; ++j) {
        const float p = std::exp(scores[j - j0] - new_max);
        running_sum += p;
        scale_add(acc, correction, p, v + j * s.kv_stride + kvh * d, d);
        correction = 1.0f;
      }
      running_max = new_max;
    }
    float* oi = out + i * s.out_stride + h * d;
    const float inv = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;
    int64_t c = 0;
    for (; c + 4 <= d; c += 4) vst1q_f32(oi + c, vmulq_n_f32(vld1q_f32(acc + c), inv));
    for (; c < d; ++c) oi[c] = acc[c] * inv;
  }
}

}  // namespace

void attention_neon(const float* q, const void* k, const void* v, float* out, const AttentionShape& s) {
  const size_t tasks = static_cast<size_t>(s.n_queries * s.n_heads);
  ThreadPool::global().parallel_for(tasks, 1, [&](size_t begin, size_t end) {
    if (s.kv_dtype == DType::kF16) {
      attention_tasks(q, static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v), out, s, begin, end);
    } else {
      attention_tasks(q, static_cast<const float*>(k), static_cast<const float*>(v), out, s, begin, end);
    }
  });
}

void f32_to_f16_neon(const float* src, int64_t count, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(src + i)), vld1q_f32(src + i + 4));
    vst1q_u16(dst + i, vreinterpretq_u16_f16(h));
  }
  for (; i < count; ++i) dst[i] = f32_to_f16(src[i]);
}

}  // namespace lumen::kernels
