// The Phi decoder family (Phi-2, as Imp uses it): its tensor-name table, in both layouts a
// checkpoint may use, and how its layers map onto the shared blocks (models/blocks.h).
//   current HF:  model.embed_tokens, model.layers.N.{input_layernorm, self_attn.{q,k,v}_proj,
//                self_attn.dense, mlp.fc1, mlp.fc2}, model.final_layernorm, lm_head
//   phi-msft:    transformer.embd.wte, transformer.h.N.{ln, mixer.Wqkv (rows [q; k; v]),
//                mixer.out_proj, mlp.fc1, mlp.fc2}, lm_head.ln, lm_head.linear
// Each block (HF PhiDecoderLayer) has one LayerNorm and a parallel residual:
//   h = LN(x);  x = x + dense(attn(rope(q(h)), rope(k(h)), v(h))) + fc2(gelu_new(fc1(h)))
// with partial NeoX rotary (rotary_dim of each head) and biases everywhere; then a final
// LayerNorm and lm_head with bias.
#pragma once

#include "lumen/models/family.h"

namespace lumen {

const DecoderFamily& phi_decoder_family();

}  // namespace lumen
