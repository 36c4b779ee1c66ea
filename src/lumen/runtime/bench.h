// `lumen bench`: speed of one weight format on one device (the CPU at a thread count, or a CUDA
// GPU) on a real model's exact shapes, with random weights made in memory. A benchmark, not a
// test: it only measures. Every device runs the same code: the random checkpoint
// (runtime/random_weights.h) loaded as an ImpModel and uploaded as the one forward pass
// (models/imp_device_model.h) to the backend `device` names.
//
// What one run measures (medians over `repeats`, after one untimed warm-up of each stage: the
// same work with `full_warmup` (a GPU's graphs and allocator need it), otherwise a short one,
// a few prompt tokens and decode steps, which is all the CPU needs):
//   image encode   one image through the vision tower and projector (729 tokens for Imp-v1-3B):
//                  host pixels uploaded (and im2col), embeddings left in backend memory
//   batch encode   `batch` images in one forward pass -> images per second
//   prefill        the image's tokens plus `text_tokens` text tokens through the decoder, the
//                  prompt's embeddings already in backend memory, the last logits to the host
//   decode         `decode_tokens` greedy single-token steps right after that prefill (depth
//                  ~800), each step's token id read back to the host as generation does; with
//                  graphs where the backend records them, and (decode_nograph_tok_s) op by op
//   batch decode   `decode_batch` sequences of that prompt, one token each per step, aggregate
// and, per stage, the arithmetic rate (GFLOP/s) and for decode the bytes moved per second
// (weights + KV cache read per token), next to a bandwidth probe of the same memory: on the CPU
// a threaded read of a host buffer, on a GPU a device-to-device copy (bytes read + written).
#pragma once

#include <cstdint>
#include <string>

#include "lumen/models/imp_config.h"

namespace lumen {

struct BenchOptions {
  ImpConfig config;
  std::string device = "cpu";  // cpu, cuda or cuda:N (backend/device.h)
  std::string quant = "f16";   // weight format of both parts (f32, f16, bf16, q8_0, q4_0); on a GPU
                               // the activation dtype follows (f32, f16, bf16; q8_0/q4_0 -> bf16)
  int threads = 2;             // the global pool (CPU kernels, making the weights)
  int repeats = 3;
  int batch = 2;               // images per forward pass for the images/s figure; 0 skips it
  int64_t text_tokens = 60;
  int64_t decode_tokens = 128;
  int64_t decode_batch = 0;    // sequences in the batched decode; 0 skips it
  bool vision = true;          // false: skip the vision stages (prefill uses random embeddings)
  bool compare_graphs = true;  // also time batch-1 decode op by op, where the backend has graphs
  bool full_warmup = true;     // warm each stage up with the timed work itself (see above)
  uint64_t probe_bytes = uint64_t{1} << 30;  // bandwidth probe's buffer; 0 skips the probe
};

struct BenchResult {
  std::string device;               // the backend's name: "cpu", "cuda:0 (NVIDIA H200)"
  std::string quant;
  std::string activation_dtype;     // of the forward pass (always f32 on the CPU)
  std::string kv_dtype;
  int threads = 0;
  double load_s = 0;                // making the random weights (page faults included) + upload
  double image_encode_s = 0;
  double images_per_s = 0;          // batched
  double vision_gflops = 0;         // GFLOP/s of the single-image encode
  int64_t prefill_tokens = 0;
  double prefill_s = 0;
  double prefill_tok_s = 0;
  double prefill_gflops = 0;
  double decode_tok_s = 0;          // batch 1, graphs where the backend has them
  double decode_gb_s = 0;           // (weights + KV cache) bytes read per token x tokens/s
  double decode_gflops = 0;
  bool decode_graphs = false;       // the backend replayed decode steps as graphs
  double decode_nograph_tok_s = 0;  // batch 1 op by op; 0 when not measured
  int64_t decode_batch = 0;
  double decode_batch_tok_s = 0;    // aggregate over decode_batch sequences; 0 when skipped
  double decode_batch_gb_s = 0;     // weights once + every sequence's KV cache, per step
  double decode_batch_gflops = 0;
  uint64_t weight_bytes = 0;        // all weights as the backend holds them
  uint64_t decode_bytes_per_token = 0;  // decoder matrices read per step (no KV cache)
  uint64_t peak_rss_bytes = 0;      // host memory
  double read_bandwidth_gb_s = 0;   // the probe; 0 when skipped
};

// Throws Error for a bad format or device name, a device that is not there, or a prompt plus
// decode longer than the model's context.
BenchResult run_bench(const BenchOptions& options);

// Median GB/s of reading a `bytes` buffer (touched beforehand) with the global pool.
double measure_read_bandwidth(size_t bytes, int repeats);

// Peak resident memory of this process since the last reset_peak_rss() (VmHWM), in bytes.
uint64_t peak_rss_bytes();
void reset_peak_rss();

}  // namespace lumen
