// `lumen bench-gpu` (and `lumen bench --device cuda`): throughput of the device forward path on
// random weights of a config's shapes (Imp-v1-3B by default), made in device memory, so it
// needs no checkpoint. What each figure measures:
//   image_encode_ms   one 384x384 image: host im2col + upload, SigLIP tower (26 layers),
//                     projector; embeddings stay on the device. Median of `repeats`.
//   prefill_ms        `prefill_tokens` positions (embeddings already on the device) through the
//                     decoder, with the last position's logits copied to the host. Median.
//   decode_b1_tok_s   greedy batch-1 decode after the prefill, one token per step with its id
//                     copied back each step (as generation does); graph replay when the backend
//                     can (decode_b1_nograph_tok_s: the same op by op).
//   decode_b32_tok_s  32 sequences of `prefill_tokens` context each, one token per sequence per
//                     step, aggregate tokens/s.
#pragma once

#include <string>

#include "lumen/backend/backend.h"
#include "lumen/models/imp_config.h"

namespace lumen {

struct DeviceBenchOptions {
  DType weights = DType::kBF16;  // dtype weights would be stored in (activations follow)
  int64_t prefill_tokens = 789;
  int64_t decode_steps = 128;
  int64_t batch = 32;
  int64_t repeats = 10;
  bool compare_without_graphs = true;
};

struct DeviceBenchResult {
  std::string device;
  std::string dtype;
  double weight_gb = 0;             // decoder + vision + projector weights on the device
  double image_encode_ms = 0;
  double prefill_ms = 0;
  double decode_b1_tok_s = 0;
  double decode_b1_nograph_tok_s = 0;
  double decode_batch_tok_s = 0;
  int64_t batch = 0;
  int64_t prefill_tokens = 0;
};

// Throws Error (e.g. not enough device memory for the batch's KV cache).
DeviceBenchResult run_device_bench(Backend& backend, const ImpConfig& config, const DeviceBenchOptions& options);

}  // namespace lumen
