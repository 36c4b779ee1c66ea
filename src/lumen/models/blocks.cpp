#include "lumen/models/blocks.h"

#include <cmath>

#include "lumen/core/error.h"

namespace lumen {

DeviceBuffer upload_floats(Backend& backend, const std::vector<float>& values) {
  DeviceBuffer buffer = backend.allocate(values.size() * sizeof(float));
  backend.copy_to_device(buffer.data(), values.data(), values.size() * sizeof(float));
  return buffer;
}

LinearBlock upload_linear(Backend& backend, const std::vector<const Linear*>& parts, DType act) {
  if (parts.empty()) fail_kind(ErrorKind::kInternal, "upload_linear: no parts");
  std::vector<WeightMatrix> matrices;
  bool any_bias = false;
  for (const Linear* p : parts) {
    matrices.push_back(p->weight);
    any_bias = any_bias || !p->bias.empty();
  }
  std::vector<float> bias;
  if (any_bias) {
    for (const Linear* p : parts) {
      if (p->bias.empty()) {
        bias.insert(bias.end(), static_cast<size_t>(p->out_features()), 0.0f);
      } else {
        bias.insert(bias.end(), p->bias.begin(), p->bias.end());
      }
    }
  }
  LinearBlock out;
  out.weight = backend.upload_weight(matrices, act);
  if (any_bias) out.bias = upload_floats(backend, bias);
  return out;
}

NormBlock upload_norm(Backend& backend, const HostNorm& norm) {
  NormBlock out;
  out.kind = norm.kind;
  out.gamma = upload_floats(backend, norm.weights.gamma);
  if (norm.kind == NormKind::kLayerNorm) out.beta = upload_floats(backend, norm.weights.beta);
  out.eps = norm.weights.eps;
  return out;
}

TransformerLayer upload_layer(Backend& backend, const HostLayer& layer, DType act) {
  auto pointers = [](const std::vector<Linear>& parts) {
    std::vector<const Linear*> out;
    for (const Linear& p : parts) out.push_back(&p);
    return out;
  };
  TransformerLayer out;
  out.norm1 = upload_norm(backend, layer.norm1);
  if (!layer.norm2.weights.gamma.empty()) out.norm2 = upload_norm(backend, layer.norm2);
  out.qkv = upload_linear(backend, pointers(layer.qkv), act);
  if (out.qkv.weight.parts.size() > 1 && layer.qkv.size() == 3) {
    out.qkv = LinearBlock{};
    for (const Linear& part : layer.qkv) out.qkv_parts.push_back(upload_linear(backend, {&part}, act));
  }
  out.out = upload_linear(backend, {&layer.out}, act);
  out.up = upload_linear(backend, pointers(layer.up), act);
  out.down = upload_linear(backend, {&layer.down}, act);
  return out;
}

void apply_norm(Backend& backend, const NormBlock& norm, const float* x, int64_t rows, int64_t n, void* y,
                DType y_dtype) {
  if (norm.kind == NormKind::kRmsNorm) {
    backend.rms_norm(x, rows, n, norm.gamma.as<float>(), norm.eps, y, y_dtype);
  } else {
    backend.layer_norm(x, rows, n, norm.gamma.as<float>(), norm.beta.as<float>(), norm.eps, y, y_dtype);
  }
}

LayerScratch LayerBuffers::reserve(Backend& backend, int64_t rows, const LayerGeometry& g, DType act) {
  const size_t a = dtype_size(act);
  auto grow = [&](DeviceBuffer& buffer, int64_t width) {
    const size_t bytes = static_cast<size_t>(rows * width) * a;
    if (buffer.bytes() < bytes) buffer = backend.allocate(bytes);
    return buffer.data();
  };
  LayerScratch scratch;
  scratch.normed = grow(normed, g.hidden);
  scratch.qkv = grow(qkv, g.qkv_width());
  scratch.attn = grow(attn, g.q_width());
  scratch.up = grow(up, g.up_width());
  if (g.gated_mlp) scratch.inner = grow(inner, g.intermediate);
  return scratch;
}

namespace {

// attn [n, q_width] from the normed rows: q, k, v projections, rotary, then attention over the
// cache slot (site) or within each sequence (batch). Queries sit in the fused [q | k | v] rows.
void attend(Backend& be, DType act, const TransformerLayer& layer, const LayerGeometry& g, int64_t n,
            const LayerScratch& s, const CacheSite* site, const SequenceBatch* batch) {
  const int64_t q = g.q_width(), kv = g.kv_width();
  // Fused: rows [q | k | v] of width qkv_width. Planar: q [n, q], then k and v [n, kv] each.
  const bool planar = !layer.qkv_parts.empty();
  void* qs = s.qkv;
  void* ks = planar ? offset_by(s.qkv, n * q, act) : offset_by(s.qkv, q, act);
  void* vs = planar ? offset_by(ks, n * kv, act) : offset_by(s.qkv, q + kv, act);
  const int64_t q_stride = planar ? q : g.qkv_width();
  const int64_t kv_stride = planar ? kv : g.qkv_width();
  if (planar) {
    void* outputs[3] = {qs, ks, vs};
    for (size_t i = 0; i < 3; ++i) {
      const LinearBlock& part = layer.qkv_parts[i];
      be.linear(s.normed, act, n, part.weight, part.b(), outputs[i], act, false);
    }
  } else {
    be.linear(s.normed, act, n, layer.qkv.weight, layer.qkv.b(), s.qkv, act, false);
  }
  AttentionShape shape;
  shape.n_heads = g.heads;
  shape.n_kv_heads = g.kv_heads;
  shape.head_dim = g.head_dim;
  shape.q_stride = q_stride;
  shape.out_stride = q;
  // softmax(q k^T / sqrt(head_dim)), as HF's attention modules scale.
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(g.head_dim)));
  if (site == nullptr) {
    if (batch == nullptr) fail_kind(ErrorKind::kInternal, "run_layer: neither a cache site nor a sequence batch");
    if (g.rotary_dim > 0) fail_kind(ErrorKind::kInternal, "run_layer: rotary attention needs positions");
    shape.n_queries = shape.n_keys = batch->length;
    shape.kv_stride = kv_stride;
    shape.causal = false;
    shape.kv_dtype = act;  // keys and values straight from this layer's projections
    be.attention(qs, ks, vs, s.attn, act, shape, batch->sequences, batch->length * q_stride,
                 batch->length * kv_stride, batch->length * q);
    return;
  }
  if (g.rotary_dim > 0) {
    if (planar) {
      be.rope_neox(qs, act, n, q_stride, g.heads, g.head_dim, g.rotary_dim, site->positions, g.rope_theta);
      be.rope_neox(ks, act, n, kv_stride, g.kv_heads, g.head_dim, g.rotary_dim, site->positions, g.rope_theta);
    } else {
      // q heads then k heads are contiguous in each fused row: one rotary pass covers both.
      be.rope_neox(qs, act, n, q_stride, g.heads + g.kv_heads, g.head_dim, g.rotary_dim, site->positions,
                   g.rope_theta);
    }
  }
  KvCache& cache = *site->cache;
  void* k_cache = cache.keys(site->layer);
  void* v_cache = cache.values(site->layer);
  const DType kv_dtype = cache.dtype();
  const int64_t slot_stride = cache.slot_stride();
  be.store_kv(ks, vs, act, n, kv_stride, k_cache, v_cache, kv_dtype, kv, slot_stride, site->slots, site->positions);
  shape.kv_stride = kv;
  shape.kv_dtype = kv_dtype;
  if (site->decode) {
    be.attention_decode(qs, k_cache, v_cache, s.attn, act, shape, n, slot_stride, site->slots, site->positions);
  } else {
    shape.n_queries = n;
    shape.n_keys = site->past + n;
    shape.causal = true;
    be.attention(qs, offset_by(k_cache, site->slot * slot_stride, kv_dtype),
                 offset_by(v_cache, site->slot * slot_stride, kv_dtype), s.attn, act, shape, 1, 0, 0, 0);
  }
}

// x += down(act(up h)) or down(act(gate h) * up h), h = normed.
template <typename Observe>
void feed_forward(Backend& be, DType act, const TransformerLayer& layer, const LayerGeometry& g, int64_t n, float* x,
                  const LayerScratch& s, const Observe* observe) {
  be.linear(s.normed, act, n, layer.up.weight, layer.up.b(), s.up, act, false);
  void* inner = s.up;
  if (g.gated_mlp) {
    be.gated_activation(g.activation, s.up, n, g.intermediate, s.inner, act);
    inner = s.inner;
  } else {
    be.activation(g.activation, s.up, act, n * g.intermediate);
  }
  if (observe != nullptr) (*observe)("mlp", inner, act, g.intermediate);
  be.linear(inner, act, n, layer.down.weight, layer.down.b(), x, DType::kF32, true);
}

}  // namespace

void observe_rows(Backend& be, const BlockObserver& observer, std::string_view name, int64_t layer, const void* rows,
                  DType dtype, int64_t n_rows, int64_t width) {
  const int64_t count = n_rows * width;
  std::vector<float> host(static_cast<size_t>(count));
  if (dtype == DType::kF32) {
    be.copy_to_host(host.data(), rows, host.size() * sizeof(float));
  } else {
    DeviceBuffer f32 = be.allocate(host.size() * sizeof(float));
    be.convert(rows, dtype, f32.data(), DType::kF32, count);
    be.copy_to_host(host.data(), f32.data(), host.size() * sizeof(float));
  }
  observer(name, layer, host.data(), n_rows, width);
}

void run_layer(Backend& be, DType act, const TransformerLayer& layer, const LayerGeometry& g, int64_t n, float* x,
               const LayerScratch& s, const CacheSite* site, const SequenceBatch* batch, const BlockObserver* observer,
               int64_t layer_index) {
  auto observe = [&](std::string_view name, const void* rows, DType dtype, int64_t width) {
    if (observer != nullptr && *observer) observe_rows(be, *observer, name, layer_index, rows, dtype, n, width);
  };
  apply_norm(be, layer.norm1, x, n, g.hidden, s.normed, act);
  observe("norm1", s.normed, act, g.hidden);
  attend(be, act, layer, g, n, s, site, batch);
  observe("attention", s.attn, act, g.q_width());
  be.linear(s.attn, act, n, layer.out.weight, layer.out.b(), x, DType::kF32, true);
  // Parallel: the MLP reads the same normed rows (their own buffer, untouched by x += ...).
  if (!g.parallel_residual) apply_norm(be, layer.norm2, x, n, g.hidden, s.normed, act);
  feed_forward(be, act, layer, g, n, x, s, observer != nullptr && *observer ? &observe : nullptr);
  observe("output", x, DType::kF32, g.hidden);
}

}  // namespace lumen
