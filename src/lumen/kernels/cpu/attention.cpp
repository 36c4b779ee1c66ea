#include "lumen/kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "lumen/core/cpu_features.h"
#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/attention_kernels.h"
#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen {

namespace {
inline int64_t visible_keys(const AttentionShape& s, int64_t query) {
  return s.causal ? std::min(s.n_keys, s.n_keys - s.n_queries + query + 1) : s.n_keys;
}
// A key/value element as fp32 (exact), by storage type.
inline float widen(float x) { return x; }
inline float widen(uint16_t h) { return f16_to_f32(h); }
// Element i of a key/value buffer of the shape's kv_dtype (the reference's per-element view).
inline float kv_at(const void* base, DType dtype, int64_t i) {
  return dtype == DType::kF16 ? widen(static_cast<const uint16_t*>(base)[i]) : static_cast<const float*>(base)[i];
}
}  // namespace

// Portable path: one (query, head) per task, scalar loops; T is the cache's element type.
template <typename T>
static void attention_generic(const float* q, const T* k, const T* v, float* out, const AttentionShape& s) {
  const int64_t group = s.n_heads / s.n_kv_heads;
  const int64_t d = s.head_dim;
  constexpr int64_t kTile = 64;
  const size_t tasks = static_cast<size_t>(s.n_queries * s.n_heads);
  ThreadPool::global().parallel_for(tasks, 1, [&](size_t begin, size_t end) {
    std::vector<float> scores(kTile);
    std::vector<float> acc(static_cast<size_t>(d));
    for (size_t task = begin; task < end; ++task) {
      const int64_t i = static_cast<int64_t>(task) / s.n_heads;
      const int64_t h = static_cast<int64_t>(task) % s.n_heads;
      const int64_t kvh = h / group;
      const float* qi = q + i * s.q_stride + h * d;
      const int64_t n_visible = visible_keys(s, i);
      float running_max = -std::numeric_limits<float>::infinity();
      float running_sum = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j0 = 0; j0 < n_visible; j0 += kTile) {
        const int64_t j1 = std::min(n_visible, j0 + kTile);
        float tile_max = -std::numeric_limits<float>::infinity();
        for (int64_t j = j0; j < j1; ++j) {
          const T* kj = k + j * s.kv_stride + kvh * d;
          float dot = 0.0f;
          for (int64_t c = 0; c < d; ++c) dot += qi[c] * widen(kj[c]);
          scores[j - j0] = dot * s.scale;
          tile_max = std::max(tile_max, scores[j - j0]);
        }
        // Rescale what was accumulated so far to the new maximum.
        const float new_max = std::max(running_max, tile_max);
        const float correction = std::exp(running_max - new_max);
        running_sum *= correction;
        for (int64_t c = 0; c < d; ++c) acc[c] *= correction;
        for (int64_t j = j0; j < j1; ++j) {
          const float p = std::exp(scores[j - j0] - new_max);
          running_sum += p;
          const T* vj = v + j * s.kv_stride + kvh * d;
          for (int64_t c = 0; c < d; ++c) acc[c] += p * widen(vj[c]);
        }
        running_max = new_max;
      }
      float* oi = out + i * s.out_stride + h * d;
      const float inv = running_sum > 0.0f ? 1.0f / running_sum : 0.0f;
      for (int64_t c = 0; c < d; ++c) oi[c] = acc[c] * inv;
    }
  });
}

#if defined(__x86_64__)
namespace {

// Kernel buffers start on a cache line: a vector load of the AVX2 kernels (32 bytes at a
// multiple of 32 from the start) then never straddles two lines.
constexpr size_t kAlignFloats = 16;
float* cache_line_aligned(std::vector<float>& buffer, size_t floats) {
  if (buffer.size() < floats + kAlignFloats) buffer.resize(floats + kAlignFloats);
  const auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + (-address & 63) / sizeof(float);
}

float* attention_scratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  return cache_line_aligned(scratch, static_cast<size_t>(floats));
}

// Few queries (decode): tasks are (query, chunk of keys), every head at once.
constexpr int64_t kDecodeMaxQueries = 4;
constexpr int64_t kDecodeMaxChunk = 64;

// Keys per decode task: at most kDecodeMaxChunk, and small enough that every thread gets
// about two chunks of a short cache.
int64_t decode_chunk(int64_t n_keys, int64_t threads) {
  const int64_t spread = (n_keys + 2 * threads - 1) / (2 * threads);
  return std::clamp<int64_t>(spread, 8, kDecodeMaxChunk);
}

// One CPU level's vectorised kernels (attention_kernels.h); the threading and scratch around
// them below are shared by the levels.
struct LevelKernels {
  // Prefill: each KV head's keys (and values, where the level packs them) laid out for `rows`
  // in packed_floats(s, ld) floats; ld, the padded key count, is a multiple of key_tile.
  int64_t (*packed_floats)(const AttentionShape& s, int64_t ld);
  void (*pack)(const void* k, const void* v, const AttentionShape& s, int64_t kv_head, float* packed, int64_t ld);
  void (*rows)(const float* q, const float* packed, int64_t ld, const void* v, float* out, const AttentionShape& s,
               int64_t head, int64_t i0, int64_t i1, float* scratch);
  int64_t (*scratch_floats)(int64_t head_dim);  // per thread, for rows
  int64_t key_tile;
  int64_t query_block;  // query rows per prefill task
  void (*decode_keys)(const float* q, const void* k, const void* v, const AttentionShape& s, int64_t query,
                      int64_t j0, int64_t j1, float* scores, float* partial);
  void (*decode_combine)(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query, float* out);
  void (*f32_to_f16)(const float* src, int64_t count, uint16_t* dst);
};

// AVX-512 packs only the keys, transposed to [head_dim][ld].
int64_t packed_floats_avx512(const AttentionShape& s, int64_t ld) { return s.head_dim * ld; }
void pack_avx512(const void* k, const void* /*v*/, const AttentionShape& s, int64_t kv_head, float* packed,
                 int64_t ld) {
  kernels::transpose_keys_avx512(k, s, kv_head, packed, ld);
}

constexpr LevelKernels kAvx512Kernels = {packed_floats_avx512,
                                         pack_avx512,
                                         kernels::attention_rows_avx512,
                                         kernels::attention_scratch_floats,
                                         64,
                                         32,
                                         kernels::attention_decode_keys_avx512,
                                         kernels::attention_decode_combine_avx512,
                                         kernels::f32_to_f16_avx512};
constexpr LevelKernels kAvx2Kernels = {kernels::packed_kv_floats_avx2,
                                       kernels::pack_kv_avx2,
                                       kernels::attention_rows_avx2,
                                       kernels::attention_scratch_floats_avx2,
                                       kernels::kAvx2KeyTile,
                                       kernels::kAvx2QueryBlock,
                                       kernels::attention_decode_keys_avx2,
                                       kernels::attention_decode_combine_avx2,
                                       kernels::f32_to_f16_avx2};

// The kernels for this machine's level, or nullptr for the portable path.
const LevelKernels* level_kernels() {
  switch (cpu_level()) {
    case CpuLevel::kAvx512: return &kAvx512Kernels;
    case CpuLevel::kAvx2: return &kAvx2Kernels;
    default: return nullptr;  // generic
  }
}

}  // namespace
#endif  // __x86_64__

void attention(const float* q, const void* k, const void* v, float* out, const AttentionShape& s) {
  if (s.n_queries <= 0 || s.n_heads <= 0) return;
  if (s.kv_dtype != DType::kF32 && s.kv_dtype != DType::kF16) {
    fail("attention: keys and values must be f32 or f16, not ", dtype_name(s.kv_dtype));
  }
#if defined(__aarch64__)
  if (cpu_level() != CpuLevel::kGeneric) {
    kernels::attention_neon(q, k, v, out, s);
    return;
  }
  const void* kern = nullptr;  // the portable path below
#else
  const LevelKernels* kern = level_kernels();
#endif
  if (kern == nullptr) {
    if (s.kv_dtype == DType::kF16) {
      attention_generic(q, static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v), out, s);
    } else {
      attention_generic(q, static_cast<const float*>(k), static_cast<const float*>(v), out, s);
    }
    return;
  }
#if defined(__x86_64__)
  ThreadPool& pool = ThreadPool::global();
  if (s.n_queries <= kDecodeMaxQueries) {
    const int64_t chunk = decode_chunk(s.n_keys, pool.size());
    const int64_t chunks = (s.n_keys + chunk - 1) / chunk;
    const int64_t part_floats = s.n_heads * kernels::decode_partial_stride(s.head_dim);
    thread_local std::vector<float> partials;
    const size_t need = static_cast<size_t>(s.n_queries * chunks * part_floats);
    if (partials.size() < need) partials.resize(need);
    float* parts = partials.data();
    pool.parallel_for(static_cast<size_t>(s.n_queries * chunks), 1, [&](size_t begin, size_t end) {
      float* scores = attention_scratch(kernels::decode_scores_floats(s.n_heads, chunk));
      for (size_t t = begin; t < end; ++t) {
        const int64_t query = static_cast<int64_t>(t) / chunks;
        const int64_t j0 = static_cast<int64_t>(t) % chunks * chunk;
        const int64_t j1 = std::min(j0 + chunk, visible_keys(s, query));
        kern->decode_keys(q, k, v, s, query, j0, j1, scores, parts + static_cast<int64_t>(t) * part_floats);
      }
    });
    for (int64_t query = 0; query < s.n_queries; ++query) {
      kern->decode_combine(parts + query * chunks * part_floats, chunks, s, query, out);
    }
    return;
  }
  // Every KV head packed once (the keys transposed, see LevelKernels): [n_kv_heads][per_head].
  const int64_t ld = (s.n_keys + kern->key_tile - 1) / kern->key_tile * kern->key_tile;
  const int64_t per_head = (kern->packed_floats(s, ld) + 15) / 16 * 16;  // heads start on a cache line
  thread_local std::vector<float> packed;
  float* packed_data = cache_line_aligned(packed, static_cast<size_t>(s.n_kv_heads * per_head));
  pool.parallel_for(static_cast<size_t>(s.n_kv_heads), 1, [&](size_t begin, size_t end) {
    for (size_t h = begin; h < end; ++h) {
      kern->pack(k, v, s, static_cast<int64_t>(h), packed_data + static_cast<int64_t>(h) * per_head, ld);
    }
  });
  // Prefill: tasks are (head, block of query rows).
  const int64_t qb = kern->query_block;
  const int64_t blocks = (s.n_queries + qb - 1) / qb;
  const int64_t group = s.n_heads / s.n_kv_heads;
  pool.parallel_for(static_cast<size_t>(s.n_heads * blocks), 1, [&](size_t begin, size_t end) {
    float* scratch = attention_scratch(kern->scratch_floats(s.head_dim));
    for (size_t t = begin; t < end; ++t) {
      const int64_t head = static_cast<int64_t>(t) / blocks;
      const int64_t block = static_cast<int64_t>(t) % blocks;
      const int64_t i0 = block * qb;
      const int64_t i1 = std::min(s.n_queries, i0 + qb);
      kern->rows(q, packed_data + (head / group) * per_head, ld, v, out, s, head, i0, i1, scratch);
    }
  });
#endif  // __x86_64__
}

void attention_reference(const float* q, const void* k, const void* v, float* out, const AttentionShape& s) {
  const int64_t group = s.n_heads / s.n_kv_heads;
  const int64_t d = s.head_dim;
  std::vector<double> scores(static_cast<size_t>(s.n_keys));
  for (int64_t i = 0; i < s.n_queries; ++i) {
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const int64_t kvh = h / group;
      const int64_t n_visible = visible_keys(s, i);
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n_visible; ++j) {
        double dot = 0.0;
        for (int64_t c = 0; c < d; ++c) {
          dot += double(q[i * s.q_stride + h * d + c]) * kv_at(k, s.kv_dtype, j * s.kv_stride + kvh * d + c);
        }
        scores[j] = dot * s.scale;
        max = std::max(max, scores[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < n_visible; ++j) sum += (scores[j] = std::exp(scores[j] - max));
      for (int64_t c = 0; c < d; ++c) {
        double o = 0.0;
        for (int64_t j = 0; j < n_visible; ++j) o += scores[j] * kv_at(v, s.kv_dtype, j * s.kv_stride + kvh * d + c);
        out[i * s.out_stride + h * d + c] = static_cast<float>(n_visible > 0 ? o / sum : 0.0);
      }
    }
  }
}

void store_kv_rows(const float* src, int64_t n, int64_t width, DType dtype, void* dst) {
  const int64_t count = n * width;
  if (dtype == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
#if defined(__x86_64__)
  } else if (const LevelKernels* kern = level_kernels()) {
    kern->f32_to_f16(src, count, static_cast<uint16_t*>(dst));
#elif defined(__aarch64__)
  } else if (cpu_level() != CpuLevel::kGeneric) {
    kernels::f32_to_f16_neon(src, count, static_cast<uint16_t*>(dst));
#endif
  } else {
    auto* out = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < count; ++i) out[i] = f32_to_f16(src[i]);
  }
}

}  // namespace lumen
