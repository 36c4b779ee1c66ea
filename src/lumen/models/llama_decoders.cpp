#include "lumen/models/llama_decoders.h"

#include "lumen/core/error.h"

namespace lumen {

namespace {

// One family's tensor-name table. Layer parts follow "{root}.layers.N".
struct LlamaNames {
  bool fused_qkv = false;      // self_attn.qkv_proj (Phi-3) or q/k/v_proj
  bool qkv_bias = false;       // Qwen2
  bool fused_gate_up = false;  // mlp.gate_up_proj (Phi-3) or gate/up_proj
};

constexpr LlamaNames kPhi3Names{true, false, true};
constexpr LlamaNames kQwen2Names{false, true, false};
constexpr LlamaNames kLlamaNames{false, false, false};

// Where the decoder sits in a checkpoint of this layout: Imp's model.* and lm_head, or LLaVA's.
struct DecoderRoots {
  std::string root, lm_head;
  std::string embed() const { return root + ".embed_tokens"; }
  std::string final_norm() const { return root + ".norm"; }
  std::string layer(int64_t i) const { return root + ".layers." + std::to_string(i); }
};

DecoderRoots decoder_roots(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::kLlavaHf: return {"language_model.model", "language_model.lm_head"};
    case WeightLayout::kLlavaHfNested: return {"model.language_model", "lm_head"};
    default: return {"model", "lm_head"};
  }
}

void llama_tensor_specs(const LlamaNames& n, const ImpConfig& config, WeightLayout layout,
                        std::vector<TensorSpec>& out) {
  const DecoderRoots names = decoder_roots(layout);
  const PhiConfig& c = config.text;
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim(), kv = c.num_kv_heads * c.head_dim();
  const int64_t ff = c.intermediate_size;
  out.push_back({names.embed() + ".weight", {c.vocab_size, d}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = names.layer(i);
    append_norm_specs(out, p + ".input_layernorm", d, false);
    if (n.fused_qkv) {
      append_linear_specs(out, p + ".self_attn.qkv_proj", q + 2 * kv, d, n.qkv_bias);
    } else {
      append_linear_specs(out, p + ".self_attn.q_proj", q, d, n.qkv_bias);
      append_linear_specs(out, p + ".self_attn.k_proj", kv, d, n.qkv_bias);
      append_linear_specs(out, p + ".self_attn.v_proj", kv, d, n.qkv_bias);
    }
    append_linear_specs(out, p + ".self_attn.o_proj", d, q, false);
    append_norm_specs(out, p + ".post_attention_layernorm", d, false);
    if (n.fused_gate_up) {
      append_linear_specs(out, p + ".mlp.gate_up_proj", 2 * ff, d, false);
    } else {
      append_linear_specs(out, p + ".mlp.gate_proj", ff, d, false);
      append_linear_specs(out, p + ".mlp.up_proj", ff, d, false);
    }
    append_linear_specs(out, p + ".mlp.down_proj", d, ff, false);
  }
  append_norm_specs(out, names.final_norm(), d, false);
  append_linear_specs(out, names.lm_head, c.vocab_size, d, false);
}

HostNorm load_rms_norm(const TensorStore& store, const std::string& prefix, int64_t n, double eps) {
  HostNorm norm;
  norm.kind = NormKind::kRmsNorm;
  norm.weights.gamma = load_vector(store, prefix + ".weight", n);
  norm.weights.eps = static_cast<float>(eps);
  return norm;
}

HostDecoder load_llama(const LlamaNames& n, const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
  const DecoderRoots names = decoder_roots(layout);
  const PhiConfig& c = config.text;
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim(), kv = c.num_kv_heads * c.head_dim();
  const int64_t ff = c.intermediate_size;
  HostDecoder decoder;
  decoder.geometry = decoder_geometry(c, /*gated_mlp=*/true, /*parallel_residual=*/false);
  decoder.vocab_size = c.vocab_size;
  decoder.embed_tokens = load_matrix(store, names.embed() + ".weight", c.vocab_size, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = names.layer(i);
    HostLayer layer;
    layer.norm1 = load_rms_norm(store, p + ".input_layernorm", d, c.layer_norm_eps);
    if (n.fused_qkv) {
      layer.qkv.push_back(load_linear(store, p + ".self_attn.qkv_proj", q + 2 * kv, d, n.qkv_bias));
    } else {
      layer.qkv.push_back(load_linear(store, p + ".self_attn.q_proj", q, d, n.qkv_bias));
      layer.qkv.push_back(load_linear(store, p + ".self_attn.k_proj", kv, d, n.qkv_bias));
      layer.qkv.push_back(load_linear(store, p + ".self_attn.v_proj", kv, d, n.qkv_bias));
    }
    layer.out = load_linear(store, p + ".self_attn.o_proj", d, q, false);
    layer.norm2 = load_rms_norm(store, p + ".post_attention_layernorm", d, c.layer_norm_eps);
    if (n.fused_gate_up) {
      layer.up.push_back(load_linear(store, p + ".mlp.gate_up_proj", 2 * ff, d, false));  // rows [gate; up]
    } else {
      layer.up.push_back(load_linear(store, p + ".mlp.gate_proj", ff, d, false));
      layer.up.push_back(load_linear(store, p + ".mlp.up_proj", ff, d, false));
    }
    layer.down = load_linear(store, p + ".mlp.down_proj", d, ff, false);
    decoder.layers.push_back(std::move(layer));
  }
  decoder.final_norm = load_rms_norm(store, names.final_norm(), d, c.layer_norm_eps);
  decoder.lm_head = load_linear(store, names.lm_head, c.vocab_size, d, false);
  return decoder;
}

// The three differ only in their name tables.
template <const LlamaNames& kNames>
const DecoderFamily& llama_lineage_family(const char* name) {
  static const DecoderFamily family{
      name, 1.0,
      [](const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out) {
        llama_tensor_specs(kNames, config, layout, out);
      },
      [](const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
        return load_llama(kNames, store, config, layout);
      }};
  return family;
}

}  // namespace

const DecoderFamily& phi3_decoder_family() { return llama_lineage_family<kPhi3Names>("phi3"); }
const DecoderFamily& qwen2_decoder_family() { return llama_lineage_family<kQwen2Names>("qwen2"); }
const DecoderFamily& llama_decoder_family() { return llama_lineage_family<kLlamaNames>("llama"); }

}  // namespace lumen
