// An in-memory Imp checkpoint of random weights with a real model's exact shapes, so speed
// can be measured on Imp-v1-3B without downloading it or writing a multi-GB file.
#pragma once

#include <cstdint>
#include <memory>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/weight_quantization.h"

namespace lumen {

// Matrices are generated directly in the format `formats` chooses for their part (as
// apply_weight_formats would leave them: rows that are not whole blocks stay F16); other
// matrices are F16, vectors F32. Values are small (|w| around 0.01-0.03) so activations stay
// finite through every layer. Generation runs on the global pool; pages are touched once.
std::unique_ptr<TensorStore> make_random_imp_store(const ImpConfig& config, const QuantOptions& formats,
                                                   uint64_t seed = 1);

}  // namespace lumen
