// Imp's forward pass, the only one: written against the Backend primitives (backend/backend.h),
// so the same description of the computation runs on the CPU backend (which uses the mapped
// weights as they are) and on CUDA. It reuses an ImpModel's loaded config and weights (every
// name and shape was checked at load) and only uploads them; nothing here parses a config or
// looks a tensor up.
//
// The model is its families' host weights (models/family.h: a vision tower, the projector, a
// decoder) uploaded into the shared blocks (models/blocks.h); this file only wires them:
//   image  -> patches -> vision layers (bidirectional per image) -> projector -> embeddings
//   tokens -> decoder layers (causal over a KV-cache slot) -> final norm -> lm_head -> logits
// The decode step of a batch (one token per cache slot) reads token ids and positions from
// backend memory, so it is recorded once per batch size and replayed as a graph.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "lumen/backend/backend.h"
#include "lumen/models/blocks.h"
#include "lumen/models/imp_model.h"
#include "lumen/models/siglip_vision.h"
#include "lumen/runtime/kv_cache.h"

namespace lumen {

// One image's projected embeddings, kept in the backend's memory: [positions = tokens_per_image,
// width = text hidden] fp32. A prompt's <image> marker is replaced by these rows device to
// device (runtime/generator.h splice_prompt_embeddings), so on a GPU an image is encoded,
// cached and spliced without a round trip through the host. Shared: the server's image cache
// hands one to every request that sends the same picture; the memory goes with the last holder.
struct DeviceImageEmbedding {
  DeviceBuffer rows;
  int64_t positions = 0;
  int64_t width = 0;
  const float* data() const { return rows.as<const float>(); }
  size_t bytes() const { return rows.bytes(); }
};
using ImageEmbedding = std::shared_ptr<const DeviceImageEmbedding>;

struct DeviceModelOptions {
  // Activation dtype asked of the backend: kF32, kF16, kBF16, or kU8 to follow the weights
  // (F32 -> F32, F16 -> F16, BF16 -> BF16, Q8_0/Q4_0 -> BF16).
  DType activation = DType::kU8;
  bool graphs = true;  // replay decode steps as graphs where the backend can
};

class DeviceImpModel {
 public:
  // Uploads a loaded model's weights to `backend` (which must outlive the result).
  static std::unique_ptr<DeviceImpModel> upload(const ImpModel& model, Backend& backend,
                                                const DeviceModelOptions& options = {});
  ~DeviceImpModel();

  const ImpConfig& config() const { return config_; }
  Backend& backend() const { return *backend_; }
  DType activation_dtype() const { return act_; }
  int64_t tokens_per_image() const { return config_.tokens_per_image(); }
  // Decode steps as graphs (when the backend can) or op by op; benchmarks compare the two.
  void set_graphs(bool on) { graphs_ = on; }
  // Sees the decoder's named intermediates during prefill (models/blocks.h run_layer: per
  // layer "norm1", "attention", "mlp", "output"; and "embeddings", the input rows, as layer
  // -1): fixture comparisons and divergence hunting. Each costs a copy to the host; decode
  // steps (recorded as graphs) are not observed. Empty: off.
  void set_decoder_observer(BlockObserver observer) { decoder_observer_ = std::move(observer); }

  // pixels: [n_images, 3, S, S] host -> host [n_images * tokens_per_image, text hidden], like
  // ImpModel::encode_images (the observer sees downloaded copies).
  std::vector<float> encode_images(const float* pixels, int64_t n_images, const VisionObserver& observer = {},
                                   std::vector<float>* vision_features = nullptr);
  // The same, each image's embeddings left in backend memory of its own (what prompts splice).
  std::vector<ImageEmbedding> encode_images_to_device(const float* pixels, int64_t n_images);
  // The same in the encoder's scratch, valid until the next encode: for a single caller
  // (lumen bench), as another thread's encode may overwrite them.
  const float* encode_images_on_device(const float* pixels, int64_t n_images);
  // An embedding's rows copied to the host: [positions, width] (tests, inspection).
  std::vector<float> download(const DeviceImageEmbedding& embedding) const;

  // A cache of `slots` sequences of `capacity` positions in this model's backend, in the KV
  // dtype the backend keeps for these weights (f16 on the CPU at --quant). Throws Error.
  KvCache make_cache(int64_t slots, int64_t capacity) const;
  DType kv_dtype() const;

  // Runs n positions of input embeddings (fp32 [n, hidden], host memory, or backend memory with
  // embeds_on_device) after slot's current length. Outputs of the last position, each skipped
  // when null: logits -> host [vocab]; last_hidden -> host [hidden], the final hidden state
  // after the final LayerNorm (prompt-based embeddings). Throws Error if the slot is full.
  void prefill(const float* embeds, int64_t n, KvCache& cache, int64_t slot, float* logits,
               float* last_hidden = nullptr, bool embeds_on_device = false);
  // One new token for each of `batch` sequences: tokens[b] goes to cache slot slots[b] (slots
  // null: slot b). logits -> host [batch, vocab] and/or greedy ids -> host [batch] (either may
  // be null). Throws Error if a slot is full (then no slot advances).
  void decode(const int32_t* tokens, const int32_t* slots, int64_t batch, KvCache& cache, float* logits,
              int32_t* next_tokens);

 private:
  struct Weights;
  struct Scratch;
  DeviceImpModel(const ImpConfig& config, Backend& backend, DType act);
  const float* encode_locked(const float* pixels, int64_t n_images, const VisionObserver& observer,
                             std::vector<float>* vision_features);
  void decoder_layers(int64_t n, float* hidden, const LayerScratch& scratch, KvCache& cache, const int32_t* slots,
                      const int32_t* positions, int64_t slot, int64_t past, bool decode_step);

  ImpConfig config_;
  Backend* backend_;
  DType act_;
  MatmulPrecision precision_ = MatmulPrecision::kExact;  // of the decoder's matrices
  // Unique per model ever made: a cache's recorded decode steps belong to one model (an
  // address could be reused by the next).
  uint64_t serial_ = 0;
  bool graphs_ = true;
  BlockObserver decoder_observer_;
  std::unique_ptr<Weights> w_;
  std::unique_ptr<Scratch> scratch_;
  std::mutex mutex_;  // one forward at a time: scratch is shared
};

}  // namespace lumen
