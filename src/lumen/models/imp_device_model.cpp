#include "lumen/models/imp_device_model.h"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "lumen/core/error.h"
#include "lumen/models/blocks.h"
#include "lumen/models/siglip_vision.h"

namespace lumen {

namespace {

// Grow-only scratch (never used by graphs, whose buffers live in the cache's DecodeStep).
void* ensure(Backend& be, DeviceBuffer& buffer, size_t bytes) {
  if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
  return buffer.data();
}

}  // namespace

struct DeviceImpModel::Weights {
  std::unique_ptr<VisionTowerBlocks> vision;
  std::vector<LinearBlock> projector;
  // Decoder.
  LayerGeometry text_geometry;
  DeviceWeight embed;  // [vocab, d]
  std::vector<TransformerLayer> text;
  NormBlock final_norm;
  LinearBlock lm_head;
};

struct DeviceImpModel::Scratch {
  DeviceBuffer proj_a, proj_b;  // projector
  DeviceBuffer t_hidden, t_logits, t_final, t_slots, t_positions;  // prefill
  LayerBuffers text_layer;
};

// The buffers (and graph) of one decode batch size over one cache.
struct DecodeStep final : KvCache::Attachment {
  uint64_t model = 0;           // the serial of the DeviceImpModel it was recorded for
  int64_t batch = 0;            // the batch size (graphed), or the largest it holds
  bool graphed = false;
  DeviceBuffer ids, slots, positions, hidden, logits, next;
  LayerBuffers layer;
  LayerScratch scratch;  // into `layer`, for `batch` rows
  std::unique_ptr<BackendGraph> graph;
};

namespace {
std::atomic<uint64_t> next_model_serial{1};
}  // namespace

DeviceImpModel::DeviceImpModel(const ImpConfig& config, Backend& backend, DType act)
    : config_(config), backend_(&backend), act_(act), serial_(next_model_serial++), w_(std::make_unique<Weights>()),
      scratch_(std::make_unique<Scratch>()) {}

DeviceImpModel::~DeviceImpModel() = default;

std::unique_ptr<DeviceImpModel> DeviceImpModel::upload(const ImpModel& model, Backend& be,
                                                       const DeviceModelOptions& options) {
  const HostDecoder& decoder = model.decoder();
  const DType act = be.activation_dtype(decoder.embed_tokens.dtype, options.activation);
  auto dm = std::unique_ptr<DeviceImpModel>(new DeviceImpModel(model.config(), be, act));
  dm->graphs_ = options.graphs;
  dm->precision_ = decoder.precision();
  Weights& w = *dm->w_;

  w.vision = std::make_unique<VisionTowerBlocks>(be, model.vision(), act);
  for (const Linear& l : model.projector().layers()) w.projector.push_back(upload_linear(be, {&l}, act));

  w.text_geometry = decoder.geometry;
  w.embed = be.upload_weight(std::span<const WeightMatrix>(&decoder.embed_tokens, 1), act);
  for (const HostLayer& layer : decoder.layers) w.text.push_back(upload_layer(be, layer, act));
  w.final_norm = upload_norm(be, decoder.final_norm);
  w.lm_head = upload_linear(be, {&decoder.lm_head}, act);
  be.synchronize();
  return dm;
}

// ---- vision

std::vector<float> DeviceImpModel::encode_images(const float* pixels, int64_t n_images, const VisionObserver& observer,
                                                 std::vector<float>* vision_features) {
  std::lock_guard<std::mutex> lock(mutex_);
  const float* embeds = encode_locked(pixels, n_images, observer, vision_features);
  std::vector<float> out(static_cast<size_t>(n_images * tokens_per_image() * config_.text.hidden_size));
  backend_->copy_to_host(out.data(), embeds, out.size() * sizeof(float));
  return out;
}

std::vector<ImageEmbedding> DeviceImpModel::encode_images_to_device(const float* pixels, int64_t n_images) {
  std::lock_guard<std::mutex> lock(mutex_);
  const float* embeds = encode_locked(pixels, n_images, {}, nullptr);
  const int64_t positions = tokens_per_image();
  const int64_t width = config_.text.hidden_size;
  const size_t bytes = static_cast<size_t>(positions * width) * sizeof(float);
  std::vector<ImageEmbedding> out;
  out.reserve(static_cast<size_t>(n_images));
  for (int64_t i = 0; i < n_images; ++i) {
    // One buffer per image, so that a cache evicts (and frees) images one by one.
    auto image = std::make_shared<DeviceImageEmbedding>();
    image->rows = backend_->allocate(bytes);
    image->positions = positions;
    image->width = width;
    backend_->copy_device(image->rows.data(), embeds + i * positions * width, bytes);
    out.push_back(std::move(image));
  }
  return out;
}

std::vector<float> DeviceImpModel::download(const DeviceImageEmbedding& embedding) const {
  std::vector<float> out(static_cast<size_t>(embedding.positions * embedding.width));
  backend_->copy_to_host(out.data(), embedding.data(), out.size() * sizeof(float));
  return out;
}

const float* DeviceImpModel::encode_images_on_device(const float* pixels, int64_t n_images) {
  std::lock_guard<std::mutex> lock(mutex_);
  return encode_locked(pixels, n_images, {}, nullptr);
}

const float* DeviceImpModel::encode_locked(const float* pixels, int64_t n_images, const VisionObserver& observer,
                                           std::vector<float>* vision_features) {
  Backend& be = *backend_;
  Scratch& s = *scratch_;
  const float* hidden = w_->vision->run(pixels, n_images, observer);
  const int64_t dv = config_.vision.hidden_size;
  const int64_t t = n_images * tokens_per_image();
  const size_t a = dtype_size(act_);
  if (vision_features != nullptr) {
    vision_features->resize(static_cast<size_t>(t * dv));
    be.copy_to_host(vision_features->data(), hidden, vision_features->size() * sizeof(float));
  }

  // Projector: Linear, then (GELU(erf), Linear) * (depth - 1); the last layer writes fp32.
  const int64_t d = config_.text.hidden_size;
  const int64_t widest = std::max(dv, d);
  void* cur = ensure(be, s.proj_a, static_cast<size_t>(t * widest) * std::max(a, sizeof(float)));
  void* next = ensure(be, s.proj_b, static_cast<size_t>(t * widest) * std::max(a, sizeof(float)));
  be.convert(hidden, DType::kF32, cur, act_, t * dv);
  for (size_t i = 0; i < w_->projector.size(); ++i) {
    const LinearBlock& l = w_->projector[i];
    const bool last = i + 1 == w_->projector.size();
    if (i > 0) be.activation(Activation::kGeluErf, cur, act_, t * l.weight.cols);
    be.linear(cur, act_, t, l.weight, l.b(), next, last ? DType::kF32 : act_, false);
    std::swap(cur, next);
  }
  return static_cast<const float*>(cur);
}

// ---- decoder

DType DeviceImpModel::kv_dtype() const { return backend_->kv_cache_dtype(act_, precision_); }

KvCache DeviceImpModel::make_cache(int64_t slots, int64_t capacity) const {
  if (slots <= 0 || capacity <= 0) fail("KV cache needs slots > 0 and capacity > 0");
  const PhiConfig& c = config_.text;
  return KvCache(*backend_, c.num_layers, slots, capacity, c.num_kv_heads * c.head_dim(), kv_dtype());
}

void DeviceImpModel::decoder_layers(int64_t n, float* hidden, const LayerScratch& scratch, KvCache& cache,
                                    const int32_t* slots, const int32_t* positions, int64_t slot, int64_t past,
                                    bool decode_step) {
  CacheSite site;
  site.cache = &cache;
  site.slots = slots;
  site.positions = positions;
  site.decode = decode_step;
  site.slot = slot;
  site.past = past;
  const BlockObserver* observer = decode_step || !decoder_observer_ ? nullptr : &decoder_observer_;
  if (observer != nullptr) observe_rows(*backend_, *observer, "embeddings", -1, hidden, DType::kF32, n, w_->text_geometry.hidden);
  for (size_t l = 0; l < w_->text.size(); ++l) {
    site.layer = static_cast<int64_t>(l);
    run_layer(*backend_, act_, w_->text[l], w_->text_geometry, n, hidden, scratch, &site, nullptr, observer,
              static_cast<int64_t>(l));
  }
}

void DeviceImpModel::prefill(const float* embeds, int64_t n, KvCache& cache, int64_t slot, float* logits,
                             float* last_hidden, bool embeds_on_device) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (n <= 0) fail("prefill needs at least one position");
  if (cache.backend() != backend_) fail_kind(ErrorKind::kInternal, "prefill: the KV cache is on another backend");
  if (slot < 0 || slot >= cache.slots()) fail("KV cache slot ", slot, " outside [0, ", cache.slots(), ")");
  const int64_t past = cache.length(slot);
  if (past + n > cache.capacity()) {
    fail_kind(ErrorKind::kLimitExceeded, "sequence of ", past + n, " positions exceeds the context of ",
              cache.capacity());
  }
  Backend& be = *backend_;
  Scratch& s = *scratch_;
  const PhiConfig& c = config_.text;
  const int64_t d = c.hidden_size;
  auto* hidden = static_cast<float*>(ensure(be, s.t_hidden, static_cast<size_t>(n * d) * sizeof(float)));
  const LayerGeometry& g = w_->text_geometry;
  const LayerScratch scratch = s.text_layer.reserve(be, n, g, act_);
  auto* slots = static_cast<int32_t*>(ensure(be, s.t_slots, static_cast<size_t>(n) * sizeof(int32_t)));
  auto* positions = static_cast<int32_t*>(ensure(be, s.t_positions, static_cast<size_t>(n) * sizeof(int32_t)));
  std::vector<int32_t> host_slots(static_cast<size_t>(n), static_cast<int32_t>(slot));
  std::vector<int32_t> host_positions(static_cast<size_t>(n));
  std::iota(host_positions.begin(), host_positions.end(), static_cast<int32_t>(past));
  be.copy_to_device(slots, host_slots.data(), host_slots.size() * sizeof(int32_t));
  be.copy_to_device(positions, host_positions.data(), host_positions.size() * sizeof(int32_t));
  if (embeds_on_device) {
    be.copy_device(hidden, embeds, static_cast<size_t>(n * d) * sizeof(float));
  } else {
    be.copy_to_device(hidden, embeds, static_cast<size_t>(n * d) * sizeof(float));
  }

  decoder_layers(n, hidden, scratch, cache, slots, positions, slot, past, false);
  cache.advance(slot, n);
  if (logits == nullptr && last_hidden == nullptr) {
    be.synchronize();
    return;
  }
  const float* last = hidden + (n - 1) * d;
  if (last_hidden != nullptr) {
    // The final LayerNorm in fp32 straight into the host copy's source row.
    auto* out = static_cast<float*>(ensure(be, s.t_final, static_cast<size_t>(d) * sizeof(float)));
    apply_norm(be, w_->final_norm, last, 1, d, out, DType::kF32);
    be.copy_to_host(last_hidden, out, static_cast<size_t>(d) * sizeof(float));
  }
  if (logits == nullptr) return;
  auto* out = static_cast<float*>(ensure(be, s.t_logits, static_cast<size_t>(c.vocab_size) * sizeof(float)));
  apply_norm(be, w_->final_norm, last, 1, d, scratch.normed, act_);
  be.linear(scratch.normed, act_, 1, w_->lm_head.weight, w_->lm_head.b(), out, DType::kF32, false);
  be.copy_to_host(logits, out, static_cast<size_t>(c.vocab_size) * sizeof(float));
}

void DeviceImpModel::decode(const int32_t* tokens, const int32_t* slots, int64_t batch, KvCache& cache,
                            float* logits, int32_t* next_tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cache.backend() != backend_) fail_kind(ErrorKind::kInternal, "decode: the KV cache is on another backend");
  if (batch <= 0 || batch > cache.slots()) fail("decode batch ", batch, " outside [1, ", cache.slots(), "]");
  const PhiConfig& c = config_.text;
  std::vector<int32_t> slot_ids(static_cast<size_t>(batch));
  std::vector<int32_t> positions(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t slot = slots != nullptr ? slots[b] : static_cast<int32_t>(b);
    if (slot < 0 || slot >= cache.slots()) fail("KV cache slot ", slot, " outside [0, ", cache.slots(), ")");
    for (int64_t other = 0; other < b; ++other) {
      if (slot_ids[static_cast<size_t>(other)] == slot) fail("decode: slot ", slot, " appears twice in one batch");
    }
    if (tokens[b] < 0 || tokens[b] >= c.vocab_size) {
      fail("token id ", tokens[b], " is outside the vocabulary of ", c.vocab_size);
    }
    const int64_t length = cache.length(slot);
    if (length + 1 > cache.capacity()) {
      fail_kind(ErrorKind::kLimitExceeded, "sequence of ", length + 1, " positions exceeds the context of ",
                cache.capacity());
    }
    slot_ids[static_cast<size_t>(b)] = slot;
    positions[static_cast<size_t>(b)] = static_cast<int32_t>(length);
  }
  Backend& be = *backend_;
  const int64_t d = c.hidden_size;

  const LayerGeometry& g = w_->text_geometry;
  // A recorded graph has its batch size frozen in: one step per batch size. Op by op, one step
  // sized for the largest batch so far serves every smaller one (a server's batches vary from
  // 1 to max_sequences; buffers per size would pile up).
  const bool use_graphs = graphs_ && be.supports_graphs();
  DecodeStep* step = nullptr;
  for (auto& attachment : cache.attachments()) {
    auto* candidate = dynamic_cast<DecodeStep*>(attachment.get());
    if (candidate == nullptr || candidate->model != serial_ || candidate->graphed != use_graphs) continue;
    if (use_graphs ? candidate->batch == batch : candidate->batch >= batch) step = candidate;
  }
  if (step == nullptr && !use_graphs) {  // outgrown: the larger one replaces it
    std::erase_if(cache.attachments(), [&](const auto& attachment) {
      auto* candidate = dynamic_cast<DecodeStep*>(attachment.get());
      return candidate != nullptr && candidate->model == serial_ && !candidate->graphed;
    });
  }
  if (step == nullptr) {
    auto fresh = std::make_unique<DecodeStep>();
    fresh->model = serial_;
    fresh->batch = batch;
    fresh->graphed = use_graphs;
    const auto n = static_cast<size_t>(batch);
    fresh->ids = be.allocate(n * sizeof(int32_t));
    fresh->slots = be.allocate(n * sizeof(int32_t));
    fresh->positions = be.allocate(n * sizeof(int32_t));
    fresh->hidden = be.allocate(n * static_cast<size_t>(d) * sizeof(float));
    fresh->scratch = fresh->layer.reserve(be, batch, g, act_);
    fresh->logits = be.allocate(n * static_cast<size_t>(c.vocab_size) * sizeof(float));
    fresh->next = be.allocate(n * sizeof(int32_t));
    step = fresh.get();
    cache.attachments().push_back(std::move(fresh));
  }
  be.copy_to_device(step->ids.data(), tokens, static_cast<size_t>(batch) * sizeof(int32_t));
  be.copy_to_device(step->slots.data(), slot_ids.data(), slot_ids.size() * sizeof(int32_t));
  be.copy_to_device(step->positions.data(), positions.data(), positions.size() * sizeof(int32_t));

  auto body = [&] {
    auto* hidden = step->hidden.as<float>();
    be.embed(step->ids.as<int32_t>(), batch, w_->embed, hidden);
    decoder_layers(batch, hidden, step->scratch, cache,
                   step->slots.as<int32_t>(), step->positions.as<int32_t>(), 0, 0, true);
    apply_norm(be, w_->final_norm, hidden, batch, d, step->scratch.normed, act_);
    be.linear(step->scratch.normed, act_, batch, w_->lm_head.weight, w_->lm_head.b(), step->logits.data(), DType::kF32,
              false);
    be.argmax_rows(step->logits.as<float>(), batch, c.vocab_size, step->next.as<int32_t>());
  };
  if (use_graphs) {
    if (!step->graph) {
      be.begin_capture();
      try {
        body();
      } catch (...) {
        be.end_capture();  // leave the stream usable; the error is what matters
        throw;
      }
      step->graph = be.end_capture();
    }
    step->graph->launch();
  } else {
    body();
  }
  for (const int32_t slot : slot_ids) cache.advance(slot, 1);
  if (logits != nullptr) {
    be.copy_to_host(logits, step->logits.data(), static_cast<size_t>(batch * c.vocab_size) * sizeof(float));
  }
  if (next_tokens != nullptr) {
    be.copy_to_host(next_tokens, step->next.data(), static_cast<size_t>(batch) * sizeof(int32_t));
  }
  if (logits == nullptr && next_tokens == nullptr) be.synchronize();
}

}  // namespace lumen
