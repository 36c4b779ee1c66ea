// The building blocks every model family's forward pass is made of, over the Backend
// primitives (backend/backend.h): a family file (models/phi, models/siglip_vision,
// models/mm_projector) says which tensors fill which block and with which options; this file
// runs them. Host-side weights (views into the mapped checkpoint, models/weight_loading.h) are
// described by the Host* structs and uploaded once into the device-side blocks.
//
// One transformer layer over n rows of the fp32 residual stream x [n, d] (act = the backend's
// activation dtype for GEMM inputs):
//   parallel residual (Phi):      h = norm1(x);  x += out(attn(h)) + mlp(h)
//   sequential residual (SigLIP,  x += out(attn(norm1(x)));  x += mlp(norm2(x))
//                        Llama)
//   attn: qkv = h Wqkv^T + b  [n, q + 2 kv]  (fused, or q/k/v stacked at upload; bias optional)
//         rotary (NeoX, on the first rotary_dim dims of each head) at each token's position,
//         then either keys/values into a KV cache slot and causal attention over it (decoders),
//         or bidirectional attention within each of several equal-length sequences (vision).
//   mlp:  plain  down(act(up h))              (Phi, SigLIP: fc1, fc2)
//         gated  down(act(gate h) * (up h))   (Llama, Qwen2, Phi-3: [gate; up] stacked)
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "lumen/backend/backend.h"
#include "lumen/models/weight_loading.h"
#include "lumen/runtime/kv_cache.h"

namespace lumen {

// Sees named intermediates (a host copy of fp32 rows) when set: tests and divergence hunting.
// name is e.g. "vision.hidden" or "decoder.hidden"; layer is how many layers have run.
using BlockObserver =
    std::function<void(std::string_view name, int64_t layer, const float* rows, int64_t n_rows, int64_t width)>;

enum class NormKind { kLayerNorm, kRmsNorm };

// ---- host-side weights (what a family file loads)

struct HostNorm {
  NormKind kind = NormKind::kLayerNorm;
  LayerNormWeights weights;  // beta empty for RMSNorm
};

struct HostLayer {
  HostNorm norm1, norm2;          // norm2 unused with a parallel residual
  std::vector<Linear> qkv;        // [q; k; v] in that row order: one fused part or three
  Linear out;
  std::vector<Linear> up;         // plain: [fc1]; gated: [gate; up] (one fused part or two)
  Linear down;
};

// ---- device-side blocks

struct LinearBlock {
  DeviceWeight weight;
  DeviceBuffer bias;  // fp32 [rows]; empty when the layer has none
  const float* b() const { return bias.as<float>(); }
};

struct NormBlock {
  NormKind kind = NormKind::kLayerNorm;
  DeviceBuffer gamma, beta;  // fp32 [n]; beta empty for RMSNorm
  float eps = 1e-5f;
};

// How a layer's attention and MLP are shaped and wired.
struct LayerGeometry {
  int64_t hidden = 0;        // d
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;    // 0: no rotary embedding
  double rope_theta = 10000.0;
  int64_t intermediate = 0;  // the MLP's inner width
  Activation activation = Activation::kGeluTanh;
  bool gated_mlp = false;
  bool parallel_residual = false;
  int64_t q_width() const { return heads * head_dim; }
  int64_t kv_width() const { return kv_heads * head_dim; }
  int64_t qkv_width() const { return q_width() + 2 * kv_width(); }
  int64_t up_width() const { return gated_mlp ? 2 * intermediate : intermediate; }
};

struct TransformerLayer {
  NormBlock norm1, norm2;
  // Fused [q; k; v] as one matrix (one GEMM whose rows interleave q | k | v), or, when the
  // backend keeps separately stored parts apart (the CPU backend's views of q_proj, k_proj,
  // v_proj), three blocks writing planar q, k and v: no copy of the weights or the outputs.
  LinearBlock qkv;
  std::vector<LinearBlock> qkv_parts;
  LinearBlock out, up, down;
};

// Uploads stacked parts (same input width) as one block: [q; k; v], [gate; up]. A part without
// bias gets zeros when another has one.
LinearBlock upload_linear(Backend& backend, const std::vector<const Linear*>& parts, DType act);
NormBlock upload_norm(Backend& backend, const HostNorm& norm);
TransformerLayer upload_layer(Backend& backend, const HostLayer& layer, DType act);
DeviceBuffer upload_floats(Backend& backend, const std::vector<float>& values);

// y = norm(x) over rows of width n, written as y_dtype.
void apply_norm(Backend& backend, const NormBlock& norm, const float* x, int64_t rows, int64_t n, void* y,
                DType y_dtype);

// Scratch one layer needs for n rows, in backend memory (sizes: normed [n, d] act, qkv [n,
// qkv_width] act, attn [n, q_width] act, inner [n, up_width] act and [n, intermediate]).
struct LayerScratch {
  void* normed = nullptr;
  void* qkv = nullptr;
  void* attn = nullptr;
  void* up = nullptr;     // [n, up_width]
  void* inner = nullptr;  // [n, intermediate]; gated MLPs only (plain ones activate `up` in place)
};

// Grow-only backend buffers behind a LayerScratch.
struct LayerBuffers {
  DeviceBuffer normed, qkv, attn, up, inner;
  // Scratch for `rows` rows of a layer of this geometry, growing the buffers when needed.
  LayerScratch reserve(Backend& backend, int64_t rows, const LayerGeometry& geometry, DType act);
};

// Where a decoder layer's keys and values go and what its queries see.
struct CacheSite {
  KvCache* cache = nullptr;
  int64_t layer = 0;
  const int32_t* slots = nullptr;      // backend memory, one per row
  const int32_t* positions = nullptr;  // backend memory, one per row
  bool decode = false;  // rows are one token each of different slots; else n tokens of `slot`
  int64_t slot = 0;     // prefill: the slot, whose positions [0, past) are already filled
  int64_t past = 0;
};

// Bidirectional attention within `sequences` back-to-back sequences of `length` rows (vision).
struct SequenceBatch {
  int64_t sequences = 1;
  int64_t length = 0;
};

// One layer over n rows of x (fp32 [n, d], backend memory), in place. Exactly one of `site`
// (causal over a KV cache slot) and `batch` (bidirectional, no cache) is given. Rotary uses
// `site`'s positions, so it needs a site. With an observer (which costs a copy to the host
// each), it sees, with `layer` as given: "norm1" (the normed input [n, d]), "attention" (the
// attention heads' output before the out projection [n, q_width]), "mlp" (the MLP's inner
// activations [n, intermediate]) and "output" (x after the layer [n, d]).
void run_layer(Backend& backend, DType act, const TransformerLayer& layer, const LayerGeometry& geometry, int64_t n,
               float* x, const LayerScratch& scratch, const CacheSite* site, const SequenceBatch* batch,
               const BlockObserver* observer = nullptr, int64_t layer_index = 0);

// Hands rows of backend memory (of `dtype`) to an observer as fp32 host rows.
void observe_rows(Backend& backend, const BlockObserver& observer, std::string_view name, int64_t layer,
                  const void* rows, DType dtype, int64_t n_rows, int64_t width);

// Pointer `elements` elements of `dtype` past base.
inline void* offset_by(void* base, int64_t elements, DType dtype) {
  return static_cast<uint8_t*>(base) + static_cast<size_t>(elements) * dtype_size(dtype);
}

}  // namespace lumen
