#include "lumen/models/llama_decoders.h"

#include "lumen/core/error.h"

namespace lumen {

namespace {

// One layout's tensor-name table. Layer parts follow "model.layers.N".
struct LlamaNames {
  bool fused_qkv = false;      // self_attn.qkv_proj (Phi-3) or q/k/v_proj
  bool qkv_bias = false;       // Qwen2
  bool fused_gate_up = false;  // mlp.gate_up_proj (Phi-3) or gate/up_proj
};

constexpr LlamaNames kPhi3Names{true, false, true};
constexpr LlamaNames kQwen2Names{false, true, false};

const std::string kEmbed = "model.embed_tokens", kFinalNorm = "model.norm", kLmHead = "lm_head";
std::string layer_prefix(int64_t i) { return "model.layers." + std::to_string(i); }

void llama_tensor_specs(const LlamaNames& n, const ImpConfig& config, std::vector<TensorSpec>& out) {
  const PhiConfig& c = config.text;
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim(), kv = c.num_kv_heads * c.head_dim();
  const int64_t ff = c.intermediate_size;
  out.push_back({kEmbed + ".weight", {c.vocab_size, d}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
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
  append_norm_specs(out, kFinalNorm, d, false);
  append_linear_specs(out, kLmHead, c.vocab_size, d, false);
}

HostNorm load_rms_norm(const TensorStore& store, const std::string& prefix, int64_t n, double eps) {
  HostNorm norm;
  norm.kind = NormKind::kRmsNorm;
  norm.weights.gamma = load_vector(store, prefix + ".weight", n);
  norm.weights.eps = static_cast<float>(eps);
  return norm;
}

HostDecoder load_llama(const LlamaNames& n, const TensorStore& store, const ImpConfig& config) {
  const PhiConfig& c = config.text;
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim(), kv = c.num_kv_heads * c.head_dim();
  const int64_t ff = c.intermediate_size;
  HostDecoder decoder;
  decoder.geometry = decoder_geometry(c, /*gated_mlp=*/true, /*parallel_residual=*/false);
  decoder.vocab_size = c.vocab_size;
  decoder.embed_tokens = load_matrix(store, kEmbed + ".weight", c.vocab_size, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(i);
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
  decoder.final_norm = load_rms_norm(store, kFinalNorm, d, c.layer_norm_eps);
  decoder.lm_head = load_linear(store, kLmHead, c.vocab_size, d, false);
  return decoder;
}

}  // namespace

const DecoderFamily& phi3_decoder_family() {
  static const DecoderFamily family{
      "phi3", 1.0,
      [](const ImpConfig& config, WeightLayout, std::vector<TensorSpec>& out) {
        llama_tensor_specs(kPhi3Names, config, out);
      },
      [](const TensorStore& store, const ImpConfig& config, WeightLayout) {
        return load_llama(kPhi3Names, store, config);
      }};
  return family;
}

const DecoderFamily& qwen2_decoder_family() {
  static const DecoderFamily family{
      "qwen2", 1.0,
      [](const ImpConfig& config, WeightLayout, std::vector<TensorSpec>& out) {
        llama_tensor_specs(kQwen2Names, config, out);
      },
      [](const TensorStore& store, const ImpConfig& config, WeightLayout) {
        return load_llama(kQwen2Names, store, config);
      }};
  return family;
}

}  // namespace lumen
