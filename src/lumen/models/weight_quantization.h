// Choosing the in-memory weight format at load time (--quant, --quant-vision, --quant-llm)
// and the conversions behind it and behind `lumen quantize`.
//
// What converts: every 2-D "*.weight" matrix (linear layers, token embeddings, lm_head) except
// position embeddings; biases, norms and the conv patch kernel (4-D) keep their stored format.
// A matrix whose rows are not whole 32-weight blocks keeps its stored float format under
// Q8_0/Q4_0. Choosing any format other than f32 also opts the matrices of that part into
// reduced-precision matmuls (MatmulPrecision::kReduced); the default keeps exact fp32 compute.
#pragma once

#include <optional>
#include <string>

#include "lumen/core/dtype.h"
#include "lumen/formats/checkpoint.h"

namespace lumen {

struct QuantOptions {
  std::optional<DType> vision;  // SigLIP tower and projector
  std::optional<DType> llm;     // Phi decoder (embeddings, layers, lm_head)
};

// "f32", "f16", "bf16", "q8_0", "q4_0" (any case). Throws Error for anything else.
DType parse_weight_format(const std::string& name);
std::string weight_format_name(DType dtype);  // lower case, as --quant spells it

// True for vision-side tensors (vision tower, mm projector), false for the LLM.
bool is_vision_tensor(const std::string& name);
// True for tensors --quant converts (see above).
bool is_quantizable_matrix(const TensorView& view);
// The format `view` ends up in under `target`.
DType converted_dtype(const TensorView& view, DType target);

// Converts the store's matrices as `options` asks (in parallel on the global pool), marks the
// parts that were chosen for reduced precision, and marks matrices already stored as
// Q8_0/Q4_0 too. Pages of converted mapped tensors are given back to the OS as each tensor is
// done, so peak memory stays near the larger of the two formats, not their sum.
void apply_weight_formats(TensorStore& store, const QuantOptions& options);

// Converts one [rows, cols] tensor of any weight dtype to `target` into `out`
// (rows * cols / block(target) * size(target) bytes), rows in parallel.
void convert_matrix(const TensorView& view, int64_t rows, int64_t cols, DType target, uint8_t* out);

}  // namespace lumen
