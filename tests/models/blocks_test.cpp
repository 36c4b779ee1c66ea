// The shared blocks (models/blocks.h) on the CPU backend against a plain double-precision
// transcription of the layer they describe, for the wirings no Imp checkpoint exercises
// (RMSNorm, gated SiLU MLP, sequential residual, grouped KV heads, full rotary, no biases:
// a Llama/Qwen2-style layer) and for Phi's (LayerNorm, parallel residual, partial rotary,
// biases), over a prefill then a decode step through a KV cache. Also the RMSNorm and gated
// activation ops alone, and the family registry's refusal of an unknown architecture.
#include "lumen/models/blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/models/registry.h"

namespace lumen {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

double act_ref(Activation act, double x) {
  switch (act) {
    case Activation::kSilu: return x / (1 + std::exp(-x));
    case Activation::kGeluTanh: return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case Activation::kGeluErf: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::kQuickGelu: return x / (1 + std::exp(-1.702 * x));
    case Activation::kRelu: return x > 0 ? x : 0;
  }
  return x;
}

TEST(Blocks, RmsNormAndGatedActivationMatchTheirFormulas) {
  const int64_t rows = 3, n = 37;
  const auto x = random_values(rows * n, 1, 2.0f), gamma = random_values(n, 2, 1.0f);
  std::vector<float> y(x.size());
  rms_norm(x.data(), rows, n, gamma.data(), 1e-6f, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) sq += double(x[r * n + i]) * x[r * n + i];
    const double inv = 1 / std::sqrt(sq / n + 1e-6);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[r * n + i], x[r * n + i] * inv * gamma[i], 1e-5);
  }
  const int64_t inner = 19;
  const auto gate_up = random_values(rows * 2 * inner, 3, 3.0f);
  std::vector<float> out(rows * inner);
  gated_activation(Activation::kSilu, gate_up.data(), rows, inner, out.data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < inner; ++i) {
      const double g = gate_up[r * 2 * inner + i], u = gate_up[r * 2 * inner + inner + i];
      EXPECT_NEAR(out[r * inner + i], act_ref(Activation::kSilu, g) * u, 1e-5);
    }
  }
}

// Host weights of one layer with random values kept alive for the views.
struct LayerFixture {
  LayerGeometry g;
  NormKind norm = NormKind::kLayerNorm;
  bool bias = true;
  std::vector<std::vector<float>> storage;
  HostLayer host;

  Linear linear(int64_t rows, int64_t cols, uint32_t seed) {
    storage.push_back(random_values(static_cast<size_t>(rows * cols), seed, 1.0f / std::sqrt(float(cols))));
    Linear l;
    l.weight = WeightMatrix{DType::kF32, reinterpret_cast<const uint8_t*>(storage.back().data()), rows, cols};
    if (bias) l.bias = random_values(static_cast<size_t>(rows), seed + 1000, 0.1f);
    return l;
  }
  HostNorm make_norm(uint32_t seed) {
    HostNorm n;
    n.kind = norm;
    n.weights.gamma = random_values(static_cast<size_t>(g.hidden), seed, 0.2f);
    for (float& v : n.weights.gamma) v += 1.0f;
    if (norm == NormKind::kLayerNorm) n.weights.beta = random_values(static_cast<size_t>(g.hidden), seed + 1, 0.1f);
    n.weights.eps = 1e-5f;
    return n;
  }
  void build() {
    host.norm1 = make_norm(10);
    if (!g.parallel_residual) host.norm2 = make_norm(20);
    // q, k, v as separate parts (stacked at upload), gate and up likewise.
    host.qkv = {linear(g.q_width(), g.hidden, 30), linear(g.kv_width(), g.hidden, 31), linear(g.kv_width(), g.hidden, 32)};
    host.out = linear(g.hidden, g.q_width(), 33);
    if (g.gated_mlp) {
      host.up = {linear(g.intermediate, g.hidden, 34), linear(g.intermediate, g.hidden, 35)};
    } else {
      host.up = {linear(g.intermediate, g.hidden, 34)};
    }
    host.down = linear(g.hidden, g.intermediate, 36);
  }
};

// y[r] = x[r] W^T + b in double.
std::vector<double> ref_linear(const std::vector<double>& x, int64_t rows, const Linear& l) {
  const int64_t out = l.weight.rows, in = l.weight.cols;
  const float* w = reinterpret_cast<const float*>(l.weight.data);
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double s = l.bias.empty() ? 0 : l.bias[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

std::vector<double> ref_norm(const std::vector<double>& x, int64_t rows, int64_t n, const HostNorm& norm) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    if (norm.kind == NormKind::kLayerNorm) {
      for (int64_t i = 0; i < n; ++i) mean += x[r * n + i];
      mean /= n;
    }
    for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
    const double inv = 1 / std::sqrt(var / n + norm.weights.eps);
    for (int64_t i = 0; i < n; ++i) {
      y[r * n + i] = (x[r * n + i] - mean) * inv * norm.weights.gamma[i] +
                     (norm.kind == NormKind::kLayerNorm ? norm.weights.beta[i] : 0.0);
    }
  }
  return y;
}

// NeoX rotary on the first rotary_dim dims of a head at `position`.
void ref_rope(double* head, int64_t rotary_dim, int64_t position, double theta) {
  const int64_t half = rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = position * std::pow(theta, -2.0 * i / rotary_dim);
    const double a = head[i], b = head[i + half];
    head[i] = a * std::cos(angle) - b * std::sin(angle);
    head[i + half] = a * std::sin(angle) + b * std::cos(angle);
  }
}

// The whole sequence x [t, d] through the layer, causal, in double.
std::vector<double> ref_layer(const LayerFixture& f, std::vector<double> x, int64_t t) {
  const LayerGeometry& g = f.g;
  const HostLayer& l = f.host;
  const std::vector<double> h = ref_norm(x, t, g.hidden, l.norm1);
  std::vector<double> q = ref_linear(h, t, l.qkv[0]), k = ref_linear(h, t, l.qkv[1]), v = ref_linear(h, t, l.qkv[2]);
  for (int64_t p = 0; p < t; ++p) {
    for (int64_t hd = 0; hd < g.heads; ++hd) ref_rope(&q[(p * g.heads + hd) * g.head_dim], g.rotary_dim, p, g.rope_theta);
    for (int64_t hd = 0; hd < g.kv_heads; ++hd) {
      ref_rope(&k[(p * g.kv_heads + hd) * g.head_dim], g.rotary_dim, p, g.rope_theta);
    }
  }
  std::vector<double> attn(static_cast<size_t>(t * g.q_width()));
  const int64_t group = g.heads / g.kv_heads;
  for (int64_t p = 0; p < t; ++p) {
    for (int64_t hd = 0; hd < g.heads; ++hd) {
      const int64_t kvh = hd / group;
      std::vector<double> scores(static_cast<size_t>(p + 1));
      double max = -1e300;
      for (int64_t j = 0; j <= p; ++j) {
        double s = 0;
        for (int64_t c = 0; c < g.head_dim; ++c) {
          s += q[(p * g.heads + hd) * g.head_dim + c] * k[(j * g.kv_heads + kvh) * g.head_dim + c];
        }
        scores[j] = s / std::sqrt(double(g.head_dim));
        max = std::max(max, scores[j]);
      }
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - max));
      for (int64_t c = 0; c < g.head_dim; ++c) {
        double o = 0;
        for (int64_t j = 0; j <= p; ++j) o += scores[j] / sum * v[(j * g.kv_heads + kvh) * g.head_dim + c];
        attn[(p * g.heads + hd) * g.head_dim + c] = o;
      }
    }
  }
  const std::vector<double> attn_out = ref_linear(attn, t, l.out);
  for (size_t i = 0; i < x.size(); ++i) x[i] += attn_out[i];
  const std::vector<double> h2 = g.parallel_residual ? h : ref_norm(x, t, g.hidden, l.norm2);
  std::vector<double> inner;
  if (g.gated_mlp) {
    const std::vector<double> gate = ref_linear(h2, t, l.up[0]), up = ref_linear(h2, t, l.up[1]);
    for (size_t i = 0; i < gate.size(); ++i) inner.push_back(act_ref(g.activation, gate[i]) * up[i]);
  } else {
    inner = ref_linear(h2, t, l.up[0]);
    for (double& v2 : inner) v2 = act_ref(g.activation, v2);
  }
  const std::vector<double> down = ref_linear(inner, t, l.down);
  for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
  return x;
}

// Prefills t - 1 positions into slot 1 of a 2-slot cache, then decodes the last one; both must
// match the reference's rows.
void check_layer(LayerFixture& f, const char* label) {
  f.build();
  const LayerGeometry& g = f.g;
  const int64_t t = 9;
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const TransformerLayer layer = upload_layer(be, f.host, DType::kF32);
  const std::vector<float> input = random_values(static_cast<size_t>(t * g.hidden), 77, 1.0f);
  const std::vector<double> want = ref_layer(f, std::vector<double>(input.begin(), input.end()), t);

  KvCache cache(be, 1, 2, 16, g.kv_width(), DType::kF32);
  auto scratch_buffer = [&](int64_t width) { return be.allocate(static_cast<size_t>(t * width) * sizeof(float)); };
  DeviceBuffer normed = scratch_buffer(g.hidden), qkv = scratch_buffer(g.qkv_width()), attn = scratch_buffer(g.q_width());
  DeviceBuffer up = scratch_buffer(g.up_width()), inner = scratch_buffer(g.intermediate);
  const LayerScratch scratch{normed.data(), qkv.data(), attn.data(), up.data(), inner.data()};

  std::vector<float> x(input.begin(), input.end() - g.hidden);  // the first t - 1 positions
  std::vector<int32_t> slots(static_cast<size_t>(t - 1), 1), positions(static_cast<size_t>(t - 1));
  for (int64_t p = 0; p < t - 1; ++p) positions[p] = static_cast<int32_t>(p);
  CacheSite site{&cache, 0, slots.data(), positions.data(), false, 1, 0};
  run_layer(be, DType::kF32, layer, g, t - 1, x.data(), scratch, &site, nullptr);
  cache.advance(1, t - 1);
  std::vector<float> last(input.end() - g.hidden, input.end());
  const int32_t slot = 1, position = static_cast<int32_t>(t - 1);
  CacheSite step{&cache, 0, &slot, &position, true, 0, 0};
  run_layer(be, DType::kF32, layer, g, 1, last.data(), scratch, &step, nullptr);
  x.insert(x.end(), last.begin(), last.end());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - want[i]));
  EXPECT_LE(worst, 1e-5) << label;
}

TEST(Blocks, LlamaStyleLayerMatchesReference) {
  LayerFixture f;
  f.g = LayerGeometry{};
  f.g.hidden = 48;
  f.g.heads = 6;
  f.g.kv_heads = 2;   // grouped KV heads
  f.g.head_dim = 8;
  f.g.rotary_dim = 8;  // full rotary
  f.g.rope_theta = 1e6;
  f.g.intermediate = 40;
  f.g.activation = Activation::kSilu;
  f.g.gated_mlp = true;
  f.g.parallel_residual = false;
  f.norm = NormKind::kRmsNorm;
  f.bias = false;
  check_layer(f, "llama-style");
}

TEST(Blocks, PhiStyleLayerMatchesReference) {
  LayerFixture f;
  f.g.hidden = 40;
  f.g.heads = 4;
  f.g.kv_heads = 4;
  f.g.head_dim = 10;   // not a power of two
  f.g.rotary_dim = 4;  // partial rotary
  f.g.intermediate = 72;
  f.g.activation = Activation::kGeluTanh;
  f.g.parallel_residual = true;
  check_layer(f, "phi-style");
}

TEST(Registry, RefusesAnUnknownArchitectureListingTheSupportedOnes) {
  EXPECT_EQ(std::string(find_model_family("imp", {}).name), "imp");
  EXPECT_EQ(std::string(find_model_family("", {"ImpForCausalLM"}).name), "imp");
  try {
    find_model_family("mamba", {"MambaForCausalLM"}, "x/config.json");
    FAIL() << "an unknown family was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("x/config.json: unsupported architecture (model_type 'mamba')"), std::string::npos)
        << message;
    EXPECT_NE(message.find("imp (model_type \"imp\", ImpForCausalLM"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace lumen
