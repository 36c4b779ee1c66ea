// `lumen bench`: speed of one weight format and thread count on a real model's exact shapes,
// with random weights made in memory. A benchmark, not a test: it only measures.
//
// What one run measures (medians over `repeats`, after one untimed warm-up of each stage):
//   image encode   one image through the vision tower and projector (729 tokens for Imp-v1-3B)
//   batch encode   `batch` images in one forward pass -> images per second
//   prefill        the image's tokens plus `text_tokens` text tokens through the decoder
//   decode         `decode_tokens` single-token steps right after that prefill (depth ~800)
// and, per stage, the arithmetic rate (GFLOP/s) and for decode the bytes moved per second
// (weights + KV cache read per token), next to a plain read-bandwidth probe.
#pragma once

#include <cstdint>
#include <string>

#include "lumen/models/imp_config.h"

namespace lumen {

struct BenchOptions {
  ImpConfig config;
  std::string quant = "f16";   // weight format of both parts (f32, f16, bf16, q8_0, q4_0)
  int threads = 2;
  int repeats = 3;
  int batch = 2;               // images per forward pass for the images/s figure; 0 skips it
  int64_t text_tokens = 60;
  int64_t decode_tokens = 128;
  bool vision = true;          // false: skip the vision stages (prefill uses random embeddings)
};

struct BenchResult {
  std::string quant;
  int threads = 0;
  double load_s = 0;                // making the random weights (page faults included)
  double image_encode_s = 0;
  double images_per_s = 0;          // batched
  double vision_gflops = 0;         // GFLOP/s of the single-image encode
  int64_t prefill_tokens = 0;
  double prefill_tok_s = 0;
  double prefill_gflops = 0;
  double decode_tok_s = 0;
  double decode_gb_s = 0;           // (weights + KV cache) bytes read per token x tokens/s
  double decode_gflops = 0;
  uint64_t weight_bytes = 0;        // all weights in memory
  uint64_t decode_bytes_per_token = 0;  // decoder matrices read per token (no KV cache)
  uint64_t peak_rss_bytes = 0;
  double read_bandwidth_gb_s = 0;   // plain read of a large buffer with `threads` threads
};

// Throws Error for a bad format name.
BenchResult run_bench(const BenchOptions& options);

// Median GB/s of reading a `bytes` buffer (touched beforehand) with the global pool.
double measure_read_bandwidth(size_t bytes, int repeats);

// Peak resident memory of this process since the last reset_peak_rss() (VmHWM), in bytes.
uint64_t peak_rss_bytes();
void reset_peak_rss();

}  // namespace lumen
