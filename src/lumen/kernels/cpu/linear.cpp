#include "lumen/kernels/cpu/linear.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "lumen/core/cpu_features.h"
#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/linear_kernels.h"
#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen {

namespace {

bool is_block_type(DType dtype) { return dtype == DType::kQ8_0 || dtype == DType::kQ4_0; }

// Dot product with eight independent partial sums, so the compiler can keep them in vector
// registers without reassociating a single sum.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Portable path (any x86-64): exact fp32 whatever the requested precision.
void linear_generic(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k_dim = w.cols;
  const int64_t n_dim = w.rows;
  // Each task owns a block of output features: it converts those weight rows once and
  // applies them to every input row, so weights stream from memory exactly once.
  constexpr int64_t kRowsPerBlock = 16;
  const size_t blocks = static_cast<size_t>((n_dim + kRowsPerBlock - 1) / kRowsPerBlock);
  ThreadPool::global().parallel_for(blocks, 1, [&](size_t begin, size_t end) {
    std::vector<float> rows(static_cast<size_t>(kRowsPerBlock * k_dim));
    for (size_t block = begin; block < end; ++block) {
      const int64_t n0 = static_cast<int64_t>(block) * kRowsPerBlock;
      const int64_t n1 = std::min(n_dim, n0 + kRowsPerBlock);
      for (int64_t n = n0; n < n1; ++n) {
        convert_row_to_f32(w.dtype, w.row(n), k_dim, rows.data() + (n - n0) * k_dim);
      }
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k_dim;
        float* yi = y + i * n_dim;
        for (int64_t n = n0; n < n1; ++n) {
          yi[n] = dot(xi, rows.data() + (n - n0) * k_dim, k_dim) + (bias ? bias[n] : 0.0f);
        }
      }
    }
  });
}

#if defined(__x86_64__)
// 64-byte aligned, grow-only buffers. Activation buffers belong to the calling thread; each
// pool thread has its own packing scratch.
struct AlignedBuffer {
  struct Free {
    void operator()(void* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<void, Free> data;
  size_t bytes = 0;
  void* get(size_t need) {
    if (need > bytes) {
      data.reset(::operator new[](need, std::align_val_t(64)));
      bytes = need;
    }
    return data.get();
  }
};

struct ActivationBuffers {
  AlignedBuffer bf16, q8_rows, q8_blocks, scale, corr;
};

ActivationBuffers& activation_buffers() {
  thread_local ActivationBuffers buffers;
  return buffers;
}

void* packing_scratch() {
  thread_local AlignedBuffer scratch;
  return scratch.get(kernels::kScratchBytes);
}

// The GEMV handles up to this many rows of x per pass over the weights.
constexpr int64_t kGemvMaxRows = 4;

// Quantizes x per 32-block for the int8 kernels of either x86 level (layouts in
// linear_kernels.h): q8_rows for the GEMV (in the AVX-512 Q4_0 GEMV's split order when
// split_q4_groups) or q8_blocks for the GEMM, scale, and corr = -offset * sum(q).
void prepare_int8_activations(const float* x, int64_t m, int64_t k, int32_t offset, bool split_q4_groups, bool gemm,
                              kernels::PreparedActivations& a) {
  const int64_t nb = k / 32;
  ActivationBuffers& buffers = activation_buffers();
  auto* q = static_cast<int8_t*>(buffers.q8_rows.get(static_cast<size_t>(m * k)));
  auto* scale = static_cast<float*>(buffers.scale.get(static_cast<size_t>(m * nb) * 4));
  auto* corr = static_cast<int32_t*>(buffers.corr.get(static_cast<size_t>(m * nb) * 4));
  kernels::quantize_activations_q8_avx2(x, m, k, q, scale, corr);  // every x86 level here has AVX2
  for (int64_t i = 0; i < m * nb; ++i) corr[i] *= -offset;
  if (split_q4_groups) {
    // Split order inside each full group of 4 blocks (see linear_kernels.h).
    int8_t group[128];
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t g = 0; g < nb / 4; ++g) {
        int8_t* src = q + i * k + g * 128;
        for (int j = 0; j < 4; ++j) {
          std::copy(src + j * 32, src + j * 32 + 16, group + j * 16);
          std::copy(src + j * 32 + 16, src + j * 32 + 32, group + 64 + j * 16);
        }
        std::copy(group, group + 128, src);
      }
    }
  }
  if (gemm) {
    auto* blocks = static_cast<int8_t*>(buffers.q8_blocks.get(static_cast<size_t>(m * k)));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t b = 0; b < nb; ++b) std::copy(q + i * k + b * 32, q + i * k + b * 32 + 32, blocks + (b * m + i) * 32);
    }
    a.q8_blocks = blocks;
  } else {
    a.q8_rows = q;
  }
  a.scale = scale;
  a.corr = corr;
}

// AVX2 + FMA + F16C: int8 (vpmaddubsw) for Q8_0/Q4_0 at reduced precision, exact fp32 otherwise.
void linear_avx2(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k = w.cols;
  const bool gemv = m <= kGemvMaxRows;
  // The int8 GEMM packs a whole row of blocks of one 16-feature panel into the scratch.
  const bool int8 = w.precision == MatmulPrecision::kReduced && is_block_type(w.dtype) &&
                    (gemv || (k / 32) * kernels::kAvx2Int8BlockPanelBytes <= kernels::kScratchBytes);
  kernels::PreparedActivations a;
  a.x = x;
  a.m = m;
  a.k = k;
  if (int8) prepare_int8_activations(x, m, k, w.dtype == DType::kQ4_0 ? 8 : 0, false, !gemv, a);

  ThreadPool& pool = ThreadPool::global();
  if (gemv) {
    pool.parallel_for(static_cast<size_t>(w.rows), 16, [&](size_t begin, size_t end) {
      const auto n0 = static_cast<int64_t>(begin), n1 = static_cast<int64_t>(end);
      if (int8) {
        kernels::gemv_int8_avx2(a, w, bias, y, n0, n1);
      } else {
        kernels::gemv_avx2(a, w, bias, y, n0, n1);
      }
    });
    return;
  }
  const int64_t panels = (w.rows + kernels::kAvx2PanelWidth - 1) / kernels::kAvx2PanelWidth;
  pool.parallel_for(static_cast<size_t>(panels), 1, [&](size_t begin, size_t end) {
    const int64_t n0 = static_cast<int64_t>(begin) * kernels::kAvx2PanelWidth;
    const int64_t n1 = std::min(w.rows, static_cast<int64_t>(end) * kernels::kAvx2PanelWidth);
    if (int8) {
      kernels::gemm_int8_avx2(a, w, bias, y, n0, n1, packing_scratch());
    } else {
      kernels::gemm_f32_avx2(a, w, bias, y, n0, n1, packing_scratch());
    }
  });
}

// AVX-512: bf16 (vdpbf16ps) / int8 (vpdpbusd) at reduced precision, exact fp32 otherwise. Where
// bf16 dot products are not used (linear_uses_bf16_dot), reduced-precision F16/BF16 weights are
// widened to fp32 (as the AVX2 level does), which is at least as accurate.
void linear_avx512(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k = w.cols;
  const bool block = is_block_type(w.dtype);
  const bool reduced = w.precision == MatmulPrecision::kReduced && (block || linear_uses_bf16_dot());
  const int64_t nb = k / 32;
  const bool gemv = m <= kGemvMaxRows;
  // The int8 GEMM packs a whole row of blocks into the per-thread scratch.
  const bool int8 = reduced && block && (gemv || nb * 1152 <= kernels::kScratchBytes);

  kernels::PreparedActivations a;
  a.x = x;
  a.m = m;
  a.k = k;
  if (int8) {
    prepare_int8_activations(x, m, k, w.dtype == DType::kQ8_0 ? 128 : 8, gemv && w.dtype == DType::kQ4_0, !gemv, a);
  } else if (reduced && !gemv) {
    a.k_pairs = (k + 1) / 2;
    auto* bf16 = static_cast<uint16_t*>(activation_buffers().bf16.get(static_cast<size_t>(m * 2 * a.k_pairs) * 2));
    kernels::convert_to_bf16_avx512(x, m, k, a.k_pairs, bf16);
    a.bf16 = bf16;
  }

  ThreadPool& pool = ThreadPool::global();
  if (gemv) {
    pool.parallel_for(static_cast<size_t>(w.rows), 16, [&](size_t begin, size_t end) {
      kernels::gemv_avx512(a, w, bias, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
    return;
  }
  const int64_t panels = (w.rows + kernels::kPanelWidth - 1) / kernels::kPanelWidth;
  pool.parallel_for(static_cast<size_t>(panels), 1, [&](size_t begin, size_t end) {
    const int64_t n0 = static_cast<int64_t>(begin) * kernels::kPanelWidth;
    const int64_t n1 = std::min(w.rows, static_cast<int64_t>(end) * kernels::kPanelWidth);
    void* scratch = packing_scratch();
    if (int8) {
      kernels::gemm_q8_avx512(a, w, bias, y, n0, n1, scratch);
    } else if (reduced) {
      kernels::gemm_bf16_avx512(a, w, bias, y, n0, n1, scratch);
    } else {
      kernels::gemm_f32_avx512(a, w, bias, y, n0, n1, scratch);
    }
  });
}
#endif  // __x86_64__

}  // namespace

void quantize_activations_q8(const float* x, int64_t m, int64_t k, int8_t* q, float* scale, int32_t* sums) {
  const int64_t nb = k / 32;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* src = x + i * k + b * 32;
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(src[j]));
      const float d = amax / 127.0f;
      const float inv = d != 0.0f ? 1.0f / d : 0.0f;
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) {
        const int v = static_cast<int>(std::nearbyint(src[j] * inv));
        q[i * k + b * 32 + j] = static_cast<int8_t>(v);
        sum += v;
      }
      scale[i * nb + b] = d;
      sums[i * nb + b] = sum;
    }
  }
}

void linear_reference(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t n = 0; n < w.rows; ++n) {
    convert_row_to_f32(w.dtype, w.row(n), w.cols, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double sum = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < w.cols; ++k) sum += static_cast<double>(x[i * w.cols + k]) * row[k];
      y[i * w.rows + n] = static_cast<float>(sum);
    }
  }
}

void linear_reference_reduced(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k = w.cols;
  std::vector<float> row(static_cast<size_t>(k));
  if (!is_block_type(w.dtype)) {
    // Both operands rounded to bf16; their products are exact, sums in double.
    std::vector<float> xr(static_cast<size_t>(m * k));
    for (size_t i = 0; i < xr.size(); ++i) xr[i] = bf16_to_f32(f32_to_bf16(x[i]));
    for (int64_t n = 0; n < w.rows; ++n) {
      convert_row_to_f32(w.dtype, w.row(n), k, row.data());
      for (float& v : row) v = bf16_to_f32(f32_to_bf16(v));
      for (int64_t i = 0; i < m; ++i) {
        double sum = bias ? bias[n] : 0.0;
        for (int64_t c = 0; c < k; ++c) sum += static_cast<double>(xr[i * k + c]) * row[c];
        y[i * w.rows + n] = static_cast<float>(sum);
      }
    }
    return;
  }
  // x quantized per block; each block's integer dot scaled by d_w * d_x.
  const int64_t nb = k / 32;
  std::vector<int8_t> q(static_cast<size_t>(m * k));
  std::vector<float> scale(static_cast<size_t>(m * nb));
  std::vector<int32_t> sums(static_cast<size_t>(m * nb));
  quantize_activations_q8(x, m, k, q.data(), scale.data(), sums.data());
  for (int64_t n = 0; n < w.rows; ++n) {
    convert_row_to_f32(w.dtype, w.row(n), k, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double sum = bias ? bias[n] : 0.0;
      for (int64_t b = 0; b < nb; ++b) {
        // Dequantized weights are d_w * q_w exactly; recover d_w * sum(q_w * q_x) as one sum.
        double block = 0.0;
        for (int j = 0; j < 32; ++j) block += static_cast<double>(row[b * 32 + j]) * q[i * k + b * 32 + j];
        sum += block * scale[i * nb + b];
      }
      y[i * w.rows + n] = static_cast<float>(sum);
    }
  }
}

namespace {

std::atomic<int> g_bf16_dot_choice{static_cast<int>(Bf16DotChoice::kProbe)};

// The probe's verdict, measured once. vdpbf16ps does twice the work of vfmadd231ps per
// instruction, so at the same issue rate it doubles the flops. Where it gives no more flops
// than the FMAs, the exact fp32 GEMM wins, as it also skips the bf16 conversions: on a 2-core
// Intel Xeon (Sapphire Rapids class) the probe gives 0.50x, and the GEMMs at Phi-2's shapes
// ran at 217 (bf16) against 335 GFLOP/s (fp32). The bar, 1.5x, leaves room for those
// conversions and for timing noise. $LUMEN_BF16_DOT=on|off decides instead; other values are
// ignored, like an unset variable.
bool bf16_dot_pays() {
  static const bool pays = [] {
#if defined(__x86_64__)
    if (const char* env = std::getenv("LUMEN_BF16_DOT")) {
      if (std::strcmp(env, "on") == 0) return true;
      if (std::strcmp(env, "off") == 0) return false;
    }
    return kernels::bf16_dot_gain_avx512() >= 1.5;
#else
    return false;
#endif
  }();
  return pays;
}

}  // namespace

void set_bf16_dot_choice(Bf16DotChoice choice) { g_bf16_dot_choice.store(static_cast<int>(choice)); }

bool linear_uses_bf16_dot() {
  if (!cpu_features().avx512bf16) return false;
  switch (static_cast<Bf16DotChoice>(g_bf16_dot_choice.load())) {
    case Bf16DotChoice::kOn: return true;
    case Bf16DotChoice::kOff: return false;
    case Bf16DotChoice::kProbe: break;
  }
  return bf16_dot_pays();
}

void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  if (m <= 0 || w.rows <= 0) return;
#if defined(__aarch64__)
  if (cpu_level() != CpuLevel::kGeneric) {
    kernels::linear_neon(x, m, w, bias, y);
    return;
  }
#endif
#if !defined(__x86_64__)
  linear_generic(x, m, w, bias, y);  // no x86 kernels in this build
#else
  if (cpu_level() == CpuLevel::kAvx2) {
    linear_avx2(x, m, w, bias, y);
  } else if (cpu_level() == CpuLevel::kAvx512) {
    linear_avx512(x, m, w, bias, y);
  } else {
    linear_generic(x, m, w, bias, y);
  }
#endif  // __x86_64__
}

}  // namespace lumen
