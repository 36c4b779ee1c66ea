// Every CUDA backend op against the CPU backend (which forwards to kernels/cpu, the scalar-
// tested reference), on fresh random data, in each activation dtype: llama.cpp's
// test-backend-ops idea. Inputs are rounded to the dtype on the host first, so both sides see
// the same values and the only difference is the GPU's arithmetic and output rounding.
// Without a GPU (or in a build without CUDA) every test here is skipped with the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/kernels/cpu/quantize.h"

namespace lumen {
namespace {

std::vector<uint8_t> to_bytes(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> out(values.size() * dtype_size(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(out.data() + i * 4, &values[i], 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
      std::memcpy(out.data() + i * 2, &h, 2);
    }
  }
  return out;
}

std::vector<float> from_bytes(const uint8_t* bytes, size_t n, DType dtype) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&out[i], bytes + i * 4, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, bytes + i * 2, 2);
      out[i] = dtype == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }
  return out;
}

// The values a dtype can hold: what both backends will actually see.
std::vector<float> rounded(const std::vector<float>& values, DType dtype) {
  auto bytes = to_bytes(values, dtype);
  return from_bytes(bytes.data(), values.size(), dtype);
}

std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> out(n);
  for (float& x : out) x = normal(rng);
  return out;
}

DeviceBuffer upload(Backend& be, const std::vector<float>& values, DType dtype) {
  auto bytes = to_bytes(values, dtype);
  DeviceBuffer buffer = be.allocate(bytes.size());
  be.copy_to_device(buffer.data(), bytes.data(), bytes.size());
  return buffer;
}

template <typename T>
DeviceBuffer upload_raw(Backend& be, const std::vector<T>& values) {
  DeviceBuffer buffer = be.allocate(values.size() * sizeof(T));
  be.copy_to_device(buffer.data(), values.data(), values.size() * sizeof(T));
  return buffer;
}

std::vector<float> download(Backend& be, const DeviceBuffer& buffer, size_t n, DType dtype) {
  std::vector<uint8_t> bytes(n * dtype_size(dtype));
  be.copy_to_host(bytes.data(), buffer.data(), bytes.size());
  return from_bytes(bytes.data(), n, dtype);
}

// ||a - b|| / ||b||, with NaN or a length mismatch reported as infinity.
double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Output rounding of a dtype plus fp32 accumulation-order noise.
double tolerance(DType dtype) { return dtype == DType::kF32 ? 2e-5 : dtype == DType::kF16 ? 2e-3 : 1.5e-2; }

const DType kDtypes[] = {DType::kF32, DType::kF16, DType::kBF16};

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_built()) {
      GTEST_SKIP() << "skipped: no CUDA device (lumen was built without CUDA)";
    }
    if (cuda_device_count() == 0) {
      GTEST_SKIP() << "skipped: " << cuda_unavailable_reason();
    }
    if (!gpu_) gpu_ = make_backend(parse_device("cuda"));
    if (!cpu_) cpu_ = make_cpu_backend();
  }
  static std::unique_ptr<Backend> gpu_, cpu_;
};
std::unique_ptr<Backend> CudaOps::gpu_, CudaOps::cpu_;

TEST(CudaAvailability, ReportsWhyItIsSkipped) {
  if (!cuda_built()) {
    EXPECT_THROW(make_backend(parse_device("cuda")), Error);
    GTEST_SKIP() << "skipped: no CUDA device (lumen was built without CUDA)";
  }
  if (cuda_device_count() == 0) {
    EXPECT_FALSE(cuda_unavailable_reason().empty());
    EXPECT_THROW(make_backend(parse_device("cuda")), Error);
    GTEST_SKIP() << "skipped: " << cuda_unavailable_reason();
  }
  auto backend = make_backend(parse_device("cuda:0"));
  EXPECT_NE(backend->name().find("cuda:0"), std::string::npos);
  EXPECT_THROW(make_backend(parse_device("cuda:" + std::to_string(cuda_device_count()))), Error);
}

TEST_F(CudaOps, LinearMatchesCpu) {
  struct Shape {
    int64_t m, n, k;
  };
  // m <= 4 runs the GEMV kernel, larger m cuBLAS; k = 588 is not a multiple of 8 (scalar path).
  const Shape shapes[] = {{1, 96, 64}, {3, 130, 256}, {4, 64, 588}, {5, 96, 64}, {37, 200, 160}, {129, 64, 588}};
  uint64_t seed = 1;
  for (DType dtype : kDtypes) {
    for (const Shape& s : shapes) {
      for (int variant = 0; variant < 3; ++variant) {  // 0: bias, F32 out; 1: no bias, T out; 2: accumulate
        const bool bias_on = variant != 1, accumulate = variant == 2;
        const DType y_dtype = variant == 1 ? dtype : DType::kF32;
        auto x = rounded(random_values(static_cast<size_t>(s.m * s.k), seed++), dtype);
        auto w = rounded(random_values(static_cast<size_t>(s.n * s.k), seed++, 0.1f), dtype);
        auto bias = random_values(static_cast<size_t>(s.n), seed++);
        auto y0 = random_values(static_cast<size_t>(s.m * s.n), seed++);
        WeightMatrix host_w{DType::kF32, reinterpret_cast<const uint8_t*>(w.data()), s.n, s.k};

        DeviceWeight cw = cpu_->upload_weight(std::span<const WeightMatrix>(&host_w, 1), DType::kF32);
        auto cx = upload(*cpu_, x, DType::kF32);
        auto cb = upload(*cpu_, bias, DType::kF32);
        auto cy = upload(*cpu_, y0, DType::kF32);
        cpu_->linear(cx.data(), DType::kF32, s.m, cw, bias_on ? cb.as<float>() : nullptr, cy.data(), DType::kF32,
                     accumulate);
        auto expected = rounded(download(*cpu_, cy, y0.size(), DType::kF32), y_dtype);

        DeviceWeight gw = gpu_->upload_weight(std::span<const WeightMatrix>(&host_w, 1), dtype);
        auto gx = upload(*gpu_, x, dtype);
        auto gb = upload(*gpu_, bias, DType::kF32);
        auto gy = upload(*gpu_, y0, y_dtype);
        gpu_->linear(gx.data(), dtype, s.m, gw, bias_on ? gb.as<float>() : nullptr, gy.data(), y_dtype, accumulate);
        auto got = download(*gpu_, gy, y0.size(), y_dtype);
        EXPECT_LE(rel_error(got, expected), tolerance(y_dtype) + 1e-5)
            << dtype_name(dtype) << " m=" << s.m << " n=" << s.n << " k=" << s.k << " variant " << variant;
      }
    }
  }
}

TEST_F(CudaOps, QuantizedWeightsAreDequantizedAtUpload) {
  const int64_t n = 48, k = 64, m = 2;
  auto w = random_values(static_cast<size_t>(n * k), 7, 0.2f);
  auto x = rounded(random_values(static_cast<size_t>(m * k), 8), DType::kBF16);
  for (DType q : {DType::kQ8_0, DType::kQ4_0}) {
    auto packed = quantize_matrix(w.data(), n, k, q);
    WeightMatrix host_w{q, packed.data(), n, k};
    DeviceWeight cw = cpu_->upload_weight(std::span<const WeightMatrix>(&host_w, 1), DType::kF32);
    auto cx = upload(*cpu_, x, DType::kF32);
    auto cy = cpu_->allocate(static_cast<size_t>(m * n) * 4);
    cpu_->linear(cx.data(), DType::kF32, m, cw, nullptr, cy.data(), DType::kF32, false);
    auto expected = download(*cpu_, cy, static_cast<size_t>(m * n), DType::kF32);
    EXPECT_EQ(gpu_->activation_dtype(q, DType::kU8), DType::kBF16);
    DeviceWeight gw = gpu_->upload_weight(std::span<const WeightMatrix>(&host_w, 1), DType::kBF16);
    auto gx = upload(*gpu_, x, DType::kBF16);
    auto gy = gpu_->allocate(static_cast<size_t>(m * n) * 4);
    gpu_->linear(gx.data(), DType::kBF16, m, gw, nullptr, gy.data(), DType::kF32, false);
    EXPECT_LE(rel_error(download(*gpu_, gy, static_cast<size_t>(m * n), DType::kF32), expected), 1.5e-2)
        << dtype_name(q);
  }
}

TEST_F(CudaOps, NormsActivationsAddConvertMatchCpu) {
  const int64_t rows = 37, n = 1152;
  auto x = random_values(static_cast<size_t>(rows * n), 11, 3.0f);
  for (float& v : x) v += 0.5f;
  auto gamma = random_values(static_cast<size_t>(n), 12);
  auto beta = random_values(static_cast<size_t>(n), 13);
  for (DType dtype : kDtypes) {
    auto cx = upload(*cpu_, x, DType::kF32), cg = upload(*cpu_, gamma, DType::kF32),
         cb = upload(*cpu_, beta, DType::kF32);
    auto cy = cpu_->allocate(x.size() * 4);
    cpu_->layer_norm(cx.as<float>(), rows, n, cg.as<float>(), cb.as<float>(), 1e-5f, cy.data(), DType::kF32);
    auto expected = rounded(download(*cpu_, cy, x.size(), DType::kF32), dtype);
    auto gx = upload(*gpu_, x, DType::kF32), gg = upload(*gpu_, gamma, DType::kF32),
         gb = upload(*gpu_, beta, DType::kF32);
    auto gy = gpu_->allocate(x.size() * dtype_size(dtype));
    gpu_->layer_norm(gx.as<float>(), rows, n, gg.as<float>(), gb.as<float>(), 1e-5f, gy.data(), dtype);
    EXPECT_LE(rel_error(download(*gpu_, gy, x.size(), dtype), expected), tolerance(dtype)) << "layer_norm "
                                                                                          << dtype_name(dtype);

    cpu_->rms_norm(cx.as<float>(), rows, n, cg.as<float>(), 1e-6f, cy.data(), DType::kF32);
    auto rms_expected = rounded(download(*cpu_, cy, x.size(), DType::kF32), dtype);
    gpu_->rms_norm(gx.as<float>(), rows, n, gg.as<float>(), 1e-6f, gy.data(), dtype);
    EXPECT_LE(rel_error(download(*gpu_, gy, x.size(), dtype), rms_expected), tolerance(dtype)) << "rms_norm "
                                                                                              << dtype_name(dtype);

    // Gated: rows of [gate | up], inner = n / 2.
    {
      auto in = rounded(x, dtype);
      const int64_t inner = n / 2;
      auto cin = upload(*cpu_, in, DType::kF32);
      auto cout = cpu_->allocate(static_cast<size_t>(rows * inner) * 4);
      cpu_->gated_activation(Activation::kSilu, cin.data(), rows, inner, cout.data(), DType::kF32);
      auto want = rounded(download(*cpu_, cout, static_cast<size_t>(rows * inner), DType::kF32), dtype);
      auto gin = upload(*gpu_, in, dtype);
      auto gout = gpu_->allocate(static_cast<size_t>(rows * inner) * dtype_size(dtype));
      gpu_->gated_activation(Activation::kSilu, gin.data(), rows, inner, gout.data(), dtype);
      EXPECT_LE(rel_error(download(*gpu_, gout, static_cast<size_t>(rows * inner), dtype), want), 2 * tolerance(dtype))
          << "gated silu " << dtype_name(dtype);
    }

    for (Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kQuickGelu, Activation::kRelu,
                           Activation::kSilu}) {
      auto in = rounded(x, dtype);
      auto ca = upload(*cpu_, in, DType::kF32);
      cpu_->activation(act, ca.data(), DType::kF32, static_cast<int64_t>(in.size()));
      auto want = rounded(download(*cpu_, ca, in.size(), DType::kF32), dtype);
      auto ga = upload(*gpu_, in, dtype);
      gpu_->activation(act, ga.data(), dtype, static_cast<int64_t>(in.size()));
      EXPECT_LE(rel_error(download(*gpu_, ga, in.size(), dtype), want), tolerance(dtype))
          << activation_name(act) << " " << dtype_name(dtype);
    }

    // convert F32 -> dtype -> F32 is exactly the host rounding.
    auto gc = gpu_->allocate(x.size() * dtype_size(dtype));
    auto gback = gpu_->allocate(x.size() * 4);
    gpu_->convert(gx.data(), DType::kF32, gc.data(), dtype, static_cast<int64_t>(x.size()));
    gpu_->convert(gc.data(), dtype, gback.data(), DType::kF32, static_cast<int64_t>(x.size()));
    EXPECT_EQ(download(*gpu_, gback, x.size(), DType::kF32), rounded(x, dtype)) << "convert " << dtype_name(dtype);
  }
  // add_rows: a [3, n] table repeated over rows.
  auto table = random_values(static_cast<size_t>(3 * n), 14);
  auto cy = upload(*cpu_, x, DType::kF32), ct = upload(*cpu_, table, DType::kF32);
  cpu_->add_rows(cy.as<float>(), ct.as<float>(), rows, 3, n);
  auto gy = upload(*gpu_, x, DType::kF32), gt = upload(*gpu_, table, DType::kF32);
  gpu_->add_rows(gy.as<float>(), gt.as<float>(), rows, 3, n);
  EXPECT_EQ(download(*gpu_, gy, x.size(), DType::kF32), download(*cpu_, cy, x.size(), DType::kF32));
}

TEST_F(CudaOps, RopeAndKvStoreMatchCpu) {
  // Phi-2 like: 4 q heads + 4 k heads of 80 dims, rotary on 32, rows of q|k|v with padding.
  const int64_t tokens = 9, heads = 8, hd = 80, rot = 32, stride = 12 * hd + 8;
  std::vector<int32_t> positions = {0, 1, 2, 7, 8, 100, 2047, 5, 6};
  auto x = random_values(static_cast<size_t>(tokens * stride), 21);
  for (DType dtype : kDtypes) {
    auto in = rounded(x, dtype);
    auto cx = upload(*cpu_, in, DType::kF32);
    auto cp = upload_raw(*cpu_, positions);
    cpu_->rope_neox(cx.data(), DType::kF32, tokens, stride, heads, hd, rot, cp.as<int32_t>(), 10000.0);
    auto want = rounded(download(*cpu_, cx, in.size(), DType::kF32), dtype);
    auto gx = upload(*gpu_, in, dtype);
    auto gp = upload_raw(*gpu_, positions);
    gpu_->rope_neox(gx.data(), dtype, tokens, stride, heads, hd, rot, gp.as<int32_t>(), 10000.0);
    auto got = download(*gpu_, gx, in.size(), dtype);
    EXPECT_LE(rel_error(got, want), tolerance(dtype)) << "rope " << dtype_name(dtype);

    // store_kv: tokens into 3 slots of capacity 2048.
    const int64_t kv = 4 * hd, capacity = 2048, slots_n = 3;
    std::vector<int32_t> slots = {0, 0, 0, 1, 1, 2, 2, 1, 1};
    const size_t cache_n = static_cast<size_t>(slots_n * capacity * kv);
    auto zeros = std::vector<float>(cache_n, 0.0f);
    auto ck = upload(*cpu_, zeros, DType::kF32), cv = upload(*cpu_, zeros, DType::kF32);
    auto cs = upload_raw(*cpu_, slots);
    auto cin = upload(*cpu_, in, DType::kF32);
    cpu_->store_kv(cin.as<float>() + 8 * hd, cin.as<float>() + 4 * hd, DType::kF32, tokens, stride, ck.data(),
                   cv.data(), DType::kF32, kv, capacity * kv, cs.as<int32_t>(), cp.as<int32_t>());
    auto gk = upload(*gpu_, zeros, dtype), gv = upload(*gpu_, zeros, dtype);
    auto gs = upload_raw(*gpu_, slots);
    auto gin = upload(*gpu_, in, dtype);
    const size_t e = dtype_size(dtype);
    gpu_->store_kv(gin.as<uint8_t>() + 8 * hd * e, gin.as<uint8_t>() + 4 * hd * e, dtype, tokens, stride, gk.data(),
                   gv.data(), dtype, kv, capacity * kv, gs.as<int32_t>(), gp.as<int32_t>());
    EXPECT_EQ(download(*gpu_, gk, cache_n, dtype), download(*cpu_, ck, cache_n, DType::kF32)) << dtype_name(dtype);
    EXPECT_EQ(download(*gpu_, gv, cache_n, dtype), download(*cpu_, cv, cache_n, DType::kF32)) << dtype_name(dtype);
  }
}

TEST_F(CudaOps, AttentionMatchesCpu) {
  struct Case {
    int64_t tq, tk, heads, kv_heads, hd, batch;
    bool causal;
  };
  // Vision-like (non-causal, batched), prefill after a past (causal, tq < tk), GQA, odd dims.
  const Case cases[] = {{49, 49, 4, 4, 72, 2, false}, {37, 53, 4, 4, 80, 1, true}, {16, 16, 4, 2, 16, 1, true},
                        {1, 33, 2, 2, 32, 1, true},   {300, 300, 2, 2, 80, 1, true}};
  uint64_t seed = 31;
  for (DType dtype : kDtypes) {
    for (const Case& c : cases) {
      AttentionShape s;
      s.n_queries = c.tq;
      s.n_keys = c.tk;
      s.n_heads = c.heads;
      s.n_kv_heads = c.kv_heads;
      s.head_dim = c.hd;
      s.q_stride = c.heads * c.hd + 8;
      s.kv_stride = c.kv_heads * c.hd + 8;
      s.out_stride = c.heads * c.hd;
      s.causal = c.causal;
      s.scale = static_cast<float>(1.0 / std::sqrt(double(c.hd)));
      const int64_t qb = c.tq * s.q_stride, kb = c.tk * s.kv_stride, ob = c.tq * s.out_stride;
      auto q = rounded(random_values(static_cast<size_t>(qb * c.batch), seed++), dtype);
      auto k = rounded(random_values(static_cast<size_t>(kb * c.batch), seed++), dtype);
      auto v = rounded(random_values(static_cast<size_t>(kb * c.batch), seed++), dtype);
      auto cq = upload(*cpu_, q, DType::kF32), ck = upload(*cpu_, k, DType::kF32), cv = upload(*cpu_, v, DType::kF32);
      auto co = cpu_->allocate(static_cast<size_t>(ob * c.batch) * 4);
      s.kv_dtype = DType::kF32;
      cpu_->attention(cq.data(), ck.data(), cv.data(), co.data(), DType::kF32, s, c.batch, qb, kb, ob);
      auto want = rounded(download(*cpu_, co, static_cast<size_t>(ob * c.batch), DType::kF32), dtype);
      s.kv_dtype = dtype;
      auto gq = upload(*gpu_, q, dtype), gk = upload(*gpu_, k, dtype), gv = upload(*gpu_, v, dtype);
      auto go = gpu_->allocate(static_cast<size_t>(ob * c.batch) * dtype_size(dtype));
      gpu_->attention(gq.data(), gk.data(), gv.data(), go.data(), dtype, s, c.batch, qb, kb, ob);
      EXPECT_LE(rel_error(download(*gpu_, go, static_cast<size_t>(ob * c.batch), dtype), want), 2 * tolerance(dtype))
          << dtype_name(dtype) << " tq=" << c.tq << " tk=" << c.tk << " hd=" << c.hd;
    }
  }
}

TEST_F(CudaOps, DecodeAttentionMatchesCpu) {
  const int64_t batch = 5, heads = 4, kv_heads = 2, hd = 80, capacity = 700;
  const int64_t kv = kv_heads * hd, q_stride = heads * hd + 2 * kv;
  std::vector<int32_t> positions = {0, 1, 63, 511, 699};
  std::vector<int32_t> slots = {3, 0, 4, 1, 2};  // query b reads cache slot slots[b]
  uint64_t seed = 41;
  for (DType dtype : kDtypes) {
    auto q = rounded(random_values(static_cast<size_t>(batch * q_stride), seed++), dtype);
    auto k = rounded(random_values(static_cast<size_t>(batch * capacity * kv), seed++), dtype);
    auto v = rounded(random_values(static_cast<size_t>(batch * capacity * kv), seed++), dtype);
    AttentionShape s;
    s.n_heads = heads;
    s.n_kv_heads = kv_heads;
    s.head_dim = hd;
    s.q_stride = q_stride;
    s.kv_stride = kv;
    s.out_stride = heads * hd;
    s.scale = 0.11f;
    auto cq = upload(*cpu_, q, DType::kF32), ck = upload(*cpu_, k, DType::kF32), cv = upload(*cpu_, v, DType::kF32);
    auto cp = upload_raw(*cpu_, positions);
    auto cs = upload_raw(*cpu_, slots);
    auto co = cpu_->allocate(static_cast<size_t>(batch * heads * hd) * 4);
    s.kv_dtype = DType::kF32;
    cpu_->attention_decode(cq.data(), ck.data(), cv.data(), co.data(), DType::kF32, s, batch, capacity * kv,
                           cs.as<int32_t>(), cp.as<int32_t>());
    auto want = rounded(download(*cpu_, co, static_cast<size_t>(batch * heads * hd), DType::kF32), dtype);
    auto gq = upload(*gpu_, q, dtype), gk = upload(*gpu_, k, dtype), gv = upload(*gpu_, v, dtype);
    auto gp = upload_raw(*gpu_, positions);
    auto gs = upload_raw(*gpu_, slots);
    auto go = gpu_->allocate(static_cast<size_t>(batch * heads * hd) * dtype_size(dtype));
    s.kv_dtype = dtype;
    gpu_->attention_decode(gq.data(), gk.data(), gv.data(), go.data(), dtype, s, batch, capacity * kv,
                           gs.as<int32_t>(), gp.as<int32_t>());
    EXPECT_LE(rel_error(download(*gpu_, go, static_cast<size_t>(batch * heads * hd), dtype), want),
              2 * tolerance(dtype))
        << dtype_name(dtype);
  }
}

TEST_F(CudaOps, EmbedArgmaxAndGraphReplay) {
  const int64_t vocab = 1000, d = 96;
  auto table = random_values(static_cast<size_t>(vocab * d), 51);
  WeightMatrix host{DType::kF32, reinterpret_cast<const uint8_t*>(table.data()), vocab, d};
  std::vector<int32_t> ids = {0, 999, 17, 17, 512};
  for (DType dtype : kDtypes) {
    DeviceWeight cw = cpu_->upload_weight(std::span<const WeightMatrix>(&host, 1), DType::kF32);
    DeviceWeight gw = gpu_->upload_weight(std::span<const WeightMatrix>(&host, 1), dtype);
    auto ci = upload_raw(*cpu_, ids), gi = upload_raw(*gpu_, ids);
    auto co = cpu_->allocate(ids.size() * d * 4), go = gpu_->allocate(ids.size() * d * 4);
    cpu_->embed(ci.as<int32_t>(), static_cast<int64_t>(ids.size()), cw, co.as<float>());
    gpu_->embed(gi.as<int32_t>(), static_cast<int64_t>(ids.size()), gw, go.as<float>());
    EXPECT_EQ(download(*gpu_, go, ids.size() * d, DType::kF32),
              rounded(download(*cpu_, co, ids.size() * d, DType::kF32), dtype))
        << dtype_name(dtype);
  }
  // argmax with ties (lowest index wins) and a row whose maximum is the last element.
  const int64_t rows = 4, n = 51200;
  auto logits = random_values(static_cast<size_t>(rows * n), 52);
  logits[100] = 50.0f;
  logits[2000] = 50.0f;
  logits[n + n - 1] = 60.0f;
  auto gl = upload(*gpu_, logits, DType::kF32);
  auto cl = upload(*cpu_, logits, DType::kF32);
  std::vector<int32_t> got(rows), want(rows);
  auto gout = gpu_->allocate(rows * 4);
  gpu_->argmax_rows(gl.as<float>(), rows, n, gout.as<int32_t>());
  gpu_->copy_to_host(got.data(), gout.data(), rows * 4);
  cpu_->argmax_rows(cl.as<float>(), rows, n, want.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(got[0], 100);
  EXPECT_EQ(got[1], n - 1);

  // A recorded graph reads its inputs at replay: change ids, replay, see new rows.
  ASSERT_TRUE(gpu_->supports_graphs());
  DeviceWeight gw = gpu_->upload_weight(std::span<const WeightMatrix>(&host, 1), DType::kF32);
  auto gi = upload_raw(*gpu_, ids);
  auto go = gpu_->allocate(ids.size() * d * 4);
  gpu_->begin_capture();
  gpu_->embed(gi.as<int32_t>(), static_cast<int64_t>(ids.size()), gw, go.as<float>());
  auto graph = gpu_->end_capture();
  std::vector<int32_t> other = {5, 6, 7, 8, 9};
  gpu_->copy_to_device(gi.data(), other.data(), other.size() * 4);
  graph->launch();
  auto rows_out = download(*gpu_, go, other.size() * d, DType::kF32);
  EXPECT_EQ(std::vector<float>(rows_out.begin(), rows_out.begin() + d),
            std::vector<float>(table.begin() + 5 * d, table.begin() + 6 * d));
}

}  // namespace
}  // namespace lumen
