// The Llama-lineage decoder families: RMSNorm, a sequential residual, full NeoX rotary,
// grouped KV heads and a SiLU-gated MLP, in the tensor layouts their checkpoints use.
//   Phi-3 (Imp-v1.5-4B-Phi3; HF Phi3DecoderLayer): fused self_attn.qkv_proj, rows
//          [q (heads hd); k (kv hd); v (kv hd)], and mlp.gate_up_proj, rows [gate; up]; no biases.
//   Qwen2 (Imp-v1.5-2B-Qwen1.5; HF Qwen2DecoderLayer): separate q/k/v_proj with biases, o_proj
//          without; separate gate/up/down_proj.
//   Llama (LLaVA-1.5's Vicuna; HF LlamaDecoderLayer): Qwen2's names without any bias, under
//          language_model.model.* or model.language_model.* (models/imp_config.h WeightLayout).
// All three, under model.* in Imp's checkpoints:
//   h = RMSNorm(x);  x += o_proj(attn(rope(q(h)), rope(k(h)), v(h)))
//   h = RMSNorm(x);  x += down_proj(silu(gate(h)) * up(h))
// then model.norm (RMSNorm) and an untied lm_head without bias.
// RMSNorm (HF LlamaRMSNorm): w * x / sqrt(mean(x^2) + eps).
#pragma once

#include "lumen/models/family.h"

namespace lumen {

const DecoderFamily& phi3_decoder_family();
const DecoderFamily& qwen2_decoder_family();
const DecoderFamily& llama_decoder_family();

}  // namespace lumen
