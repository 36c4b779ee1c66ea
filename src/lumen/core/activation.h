// The pointwise nonlinearities model configs name (config.json "hidden_act"). A core type:
// configs parse it, kernels and every backend apply it, and none of them depends on the others.
#pragma once

#include <string>

namespace lumen {

// kGeluErf: 0.5 x (1 + erf(x / sqrt 2)) (HF "gelu"); kGeluTanh: the tanh approximation
// ("gelu_new", "gelu_pytorch_tanh"); kQuickGelu: x sigmoid(1.702 x) (CLIP); kRelu; kSilu:
// x sigmoid(x) ("silu", Llama's gated MLPs).
enum class Activation { kGeluErf, kGeluTanh, kQuickGelu, kRelu, kSilu };

// The activation a config names; throws Error naming `label` (the config file) for any other.
Activation parse_activation(const std::string& name, const std::string& label);
const char* activation_name(Activation act);

}  // namespace lumen
