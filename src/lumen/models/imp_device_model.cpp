#include "lumen/models/imp_device_model.h"

#include <cmath>
#include <numeric>

#include "lumen/core/error.h"

namespace lumen {

namespace {

struct DevLinear {
  DeviceWeight weight;
  DeviceBuffer bias;  // fp32 [rows], empty when the layer has none
  const float* b() const { return bias.as<float>(); }
};

struct DevNorm {
  DeviceBuffer gamma, beta;  // fp32 [n]
  float eps = 1e-5f;
};

DeviceBuffer upload_floats(Backend& be, const std::vector<float>& values) {
  DeviceBuffer buffer = be.allocate(values.size() * sizeof(float));
  be.copy_to_device(buffer.data(), values.data(), values.size() * sizeof(float));
  return buffer;
}

DeviceBuffer random_floats(Backend& be, int64_t n, float scale, float offset, uint64_t seed) {
  DeviceBuffer buffer = be.allocate(static_cast<size_t>(n) * sizeof(float));
  be.fill_random(buffer.as<float>(), n, scale, offset, seed);
  return buffer;
}

// Stacks several host Linears (same input width) into one device layer: [q; k; v].
DevLinear upload_linear(Backend& be, std::initializer_list<const Linear*> parts, DType dtype) {
  std::vector<WeightMatrix> matrices;
  std::vector<float> bias;
  bool any_bias = false;
  for (const Linear* p : parts) {
    matrices.push_back(p->weight);
    any_bias = any_bias || !p->bias.empty();
  }
  for (const Linear* p : parts) {
    if (any_bias && p->bias.empty()) {
      bias.insert(bias.end(), static_cast<size_t>(p->out_features()), 0.0f);
    } else {
      bias.insert(bias.end(), p->bias.begin(), p->bias.end());
    }
  }
  DevLinear out;
  out.weight = be.upload_weight(matrices, dtype);
  if (any_bias) out.bias = upload_floats(be, bias);
  return out;
}

DevNorm upload_norm(Backend& be, const LayerNormWeights& ln) {
  return DevNorm{upload_floats(be, ln.gamma), upload_floats(be, ln.beta), ln.eps};
}

// Weights ~ U(-1/sqrt(cols), 1/sqrt(cols)) keep activations O(1) through the stack.
DevLinear random_linear(Backend& be, int64_t rows, int64_t cols, DType dtype, uint64_t& seed) {
  DevLinear out;
  const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
  out.weight = be.random_weight(rows, cols, dtype, scale, seed++);
  out.bias = random_floats(be, rows, 0.02f, 0.0f, seed++);
  return out;
}

DevNorm random_norm(Backend& be, int64_t n, double eps, uint64_t& seed) {
  DevNorm out;
  out.gamma = random_floats(be, n, 0.1f, 1.0f, seed++);
  out.beta = random_floats(be, n, 0.02f, 0.0f, seed++);
  out.eps = static_cast<float>(eps);
  return out;
}

// Grow-only scratch (never used by graphs, whose buffers live in the cache's DecodeStep).
void* ensure(Backend& be, DeviceBuffer& buffer, size_t bytes) {
  if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
  return buffer.data();
}

template <typename T = void>
T* offset_by(void* base, int64_t elements, DType dtype) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(base) + static_cast<size_t>(elements) * dtype_size(dtype));
}

}  // namespace

struct DeviceImpModel::Weights {
  // Vision tower.
  DevLinear patch;           // [dv, 3 p p]
  DeviceBuffer positions;    // fp32 [num_patches, dv]
  struct VisionLayer {
    DevNorm ln1, ln2;
    DevLinear qkv, out, fc1, fc2;
  };
  std::vector<VisionLayer> vision;
  std::vector<DevLinear> projector;
  // Decoder.
  DeviceWeight embed;        // [vocab, d]
  struct TextLayer {
    DevNorm ln;
    DevLinear qkv, dense, fc1, fc2;
  };
  std::vector<TextLayer> text;
  DevNorm final_norm;
  DevLinear lm_head;
};

struct DeviceImpModel::Scratch {
  DeviceBuffer pixels, patches, hidden, normed, qkv, attn, mlp, proj_a, proj_b;  // vision
  DeviceBuffer t_hidden, t_normed, t_qkv, t_attn, t_mlp, t_logits, t_final, t_slots, t_positions;  // prefill
};

// The buffers (and graph) of one decode batch size over one cache.
struct DecodeStep final : KvCache::Attachment {
  const void* model = nullptr;  // the DeviceImpModel it was recorded for
  int64_t batch = 0;            // the batch size (graphed), or the largest it holds
  bool graphed = false;
  DeviceBuffer ids, slots, positions, hidden, normed, qkv, attn, mlp, logits, next;
  std::unique_ptr<BackendGraph> graph;
};

DeviceImpModel::DeviceImpModel(const ImpConfig& config, Backend& backend, DType act)
    : config_(config), backend_(&backend), act_(act), w_(std::make_unique<Weights>()),
      scratch_(std::make_unique<Scratch>()) {}

DeviceImpModel::~DeviceImpModel() = default;

std::unique_ptr<DeviceImpModel> DeviceImpModel::upload(const ImpModel& model, Backend& be,
                                                       const DeviceModelOptions& options) {
  const PhiDecoder& decoder = model.decoder();
  const DType act = be.activation_dtype(decoder.embed_tokens().dtype, options.activation);
  auto dm = std::unique_ptr<DeviceImpModel>(new DeviceImpModel(model.config(), be, act));
  dm->graphs_ = options.graphs;
  if (!decoder.layers().empty()) dm->precision_ = decoder.layers()[0].q_proj.weight.precision;
  Weights& w = *dm->w_;

  const SiglipVisionTower& vision = model.vision();
  w.patch = upload_linear(be, {&vision.patch_embedding()}, act);
  w.positions = upload_floats(be, vision.position_embedding());
  for (const SiglipEncoderLayer& l : vision.layers()) {
    Weights::VisionLayer layer;
    layer.ln1 = upload_norm(be, l.layer_norm1);
    layer.ln2 = upload_norm(be, l.layer_norm2);
    layer.qkv = upload_linear(be, {&l.q_proj, &l.k_proj, &l.v_proj}, act);
    layer.out = upload_linear(be, {&l.out_proj}, act);
    layer.fc1 = upload_linear(be, {&l.fc1}, act);
    layer.fc2 = upload_linear(be, {&l.fc2}, act);
    w.vision.push_back(std::move(layer));
  }
  for (const Linear& l : model.projector().layers()) w.projector.push_back(upload_linear(be, {&l}, act));

  const WeightMatrix embed = decoder.embed_tokens();
  w.embed = be.upload_weight(std::span<const WeightMatrix>(&embed, 1), act);
  for (const PhiLayer& l : decoder.layers()) {
    Weights::TextLayer layer;
    layer.ln = upload_norm(be, l.input_layernorm);
    layer.qkv = upload_linear(be, {&l.q_proj, &l.k_proj, &l.v_proj}, act);
    layer.dense = upload_linear(be, {&l.dense}, act);
    layer.fc1 = upload_linear(be, {&l.fc1}, act);
    layer.fc2 = upload_linear(be, {&l.fc2}, act);
    w.text.push_back(std::move(layer));
  }
  w.final_norm = upload_norm(be, decoder.final_layernorm());
  w.lm_head = upload_linear(be, {&decoder.lm_head()}, act);
  be.synchronize();
  return dm;
}

std::unique_ptr<DeviceImpModel> DeviceImpModel::random(const ImpConfig& c, Backend& be, DType weights, uint64_t seed,
                                                       const DeviceModelOptions& options) {
  const DType act = be.activation_dtype(weights, options.activation);
  auto dm = std::unique_ptr<DeviceImpModel>(new DeviceImpModel(c, be, act));
  dm->graphs_ = options.graphs;
  Weights& w = *dm->w_;
  const int64_t dv = c.vision.hidden_size;
  const int64_t patch_len = c.vision.num_channels * c.vision.patch_size * c.vision.patch_size;
  w.patch = random_linear(be, dv, patch_len, act, seed);
  w.positions = random_floats(be, c.vision.num_patches() * dv, 0.1f, 0.0f, seed++);
  for (int64_t i = 0; i < c.vision_layers_to_run; ++i) {
    Weights::VisionLayer layer;
    layer.ln1 = random_norm(be, dv, c.vision.layer_norm_eps, seed);
    layer.ln2 = random_norm(be, dv, c.vision.layer_norm_eps, seed);
    layer.qkv = random_linear(be, 3 * dv, dv, act, seed);
    layer.out = random_linear(be, dv, dv, act, seed);
    layer.fc1 = random_linear(be, c.vision.intermediate_size, dv, act, seed);
    layer.fc2 = random_linear(be, dv, c.vision.intermediate_size, act, seed);
    w.vision.push_back(std::move(layer));
  }
  const int64_t d = c.text.hidden_size;
  for (int64_t i = 0; i < c.projector_depth; ++i) w.projector.push_back(random_linear(be, d, i == 0 ? dv : d, act, seed));
  const int64_t kv = c.text.num_kv_heads * c.text.head_dim();
  w.embed = be.random_weight(c.text.vocab_size, d, act, 1.0f, seed++);
  for (int64_t i = 0; i < c.text.num_layers; ++i) {
    Weights::TextLayer layer;
    layer.ln = random_norm(be, d, c.text.layer_norm_eps, seed);
    layer.qkv = random_linear(be, d + 2 * kv, d, act, seed);
    layer.dense = random_linear(be, d, d, act, seed);
    layer.fc1 = random_linear(be, c.text.intermediate_size, d, act, seed);
    layer.fc2 = random_linear(be, d, c.text.intermediate_size, act, seed);
    w.text.push_back(std::move(layer));
  }
  w.final_norm = random_norm(be, d, c.text.layer_norm_eps, seed);
  w.lm_head = random_linear(be, c.text.vocab_size, d, act, seed);
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

const float* DeviceImpModel::encode_images_on_device(const float* pixels, int64_t n_images) {
  std::lock_guard<std::mutex> lock(mutex_);
  return encode_locked(pixels, n_images, {}, nullptr);
}

const float* DeviceImpModel::encode_locked(const float* pixels, int64_t n_images, const VisionObserver& observer,
                                           std::vector<float>* vision_features) {
  if (n_images <= 0) fail("encode_images needs at least one image");
  Backend& be = *backend_;
  Scratch& s = *scratch_;
  const SiglipVisionConfig& vc = config_.vision;
  const int64_t p = vc.patch_size, side = vc.patches_per_side(), size = vc.image_size, channels = vc.num_channels;
  const int64_t per_image = vc.num_patches();
  const int64_t dv = vc.hidden_size, iv = vc.intermediate_size, heads = vc.num_heads;
  const int64_t patch_len = channels * p * p;
  const int64_t t = n_images * per_image;
  const size_t a = dtype_size(act_);

  // im2col on the host (models/siglip_vision): patches [t, 3 p p].
  const std::vector<float> patches = siglip_patches(pixels, n_images, vc);
  auto* patches_f32 = static_cast<float*>(ensure(be, s.pixels, patches.size() * sizeof(float)));
  be.copy_to_device(patches_f32, patches.data(), patches.size() * sizeof(float));
  void* patches_act = ensure(be, s.patches, patches.size() * a);
  be.convert(patches_f32, DType::kF32, patches_act, act_, t * patch_len);

  auto* hidden = static_cast<float*>(ensure(be, s.hidden, static_cast<size_t>(t * dv) * sizeof(float)));
  void* normed = ensure(be, s.normed, static_cast<size_t>(t * dv) * a);
  void* qkv = ensure(be, s.qkv, static_cast<size_t>(t * 3 * dv) * a);
  void* attn = ensure(be, s.attn, static_cast<size_t>(t * dv) * a);
  void* mlp = ensure(be, s.mlp, static_cast<size_t>(t * iv) * a);

  auto observe = [&](int64_t k) {
    if (!observer) return;
    std::vector<float> host(static_cast<size_t>(t * dv));
    be.copy_to_host(host.data(), hidden, host.size() * sizeof(float));
    observer(k, host.data(), t, dv);
  };

  be.linear(patches_act, act_, t, w_->patch.weight, w_->patch.b(), hidden, DType::kF32, false);
  be.add_rows(hidden, w_->positions.as<float>(), t, per_image, dv);
  observe(0);

  AttentionShape shape;
  shape.n_queries = shape.n_keys = per_image;
  shape.n_heads = shape.n_kv_heads = heads;
  shape.head_dim = dv / heads;
  shape.q_stride = shape.kv_stride = 3 * dv;
  shape.out_stride = dv;
  shape.causal = false;
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  shape.kv_dtype = act_;  // keys and values straight from this layer's qkv
  for (size_t i = 0; i < w_->vision.size(); ++i) {
    const Weights::VisionLayer& l = w_->vision[i];
    be.layer_norm(hidden, t, dv, l.ln1.gamma.as<float>(), l.ln1.beta.as<float>(), l.ln1.eps, normed, act_);
    be.linear(normed, act_, t, l.qkv.weight, l.qkv.b(), qkv, act_, false);
    be.attention(qkv, offset_by(qkv, dv, act_), offset_by(qkv, 2 * dv, act_), attn, act_, shape, n_images,
                 per_image * 3 * dv, per_image * 3 * dv, per_image * dv);
    be.linear(attn, act_, t, l.out.weight, l.out.b(), hidden, DType::kF32, true);
    be.layer_norm(hidden, t, dv, l.ln2.gamma.as<float>(), l.ln2.beta.as<float>(), l.ln2.eps, normed, act_);
    be.linear(normed, act_, t, l.fc1.weight, l.fc1.b(), mlp, act_, false);
    be.activation(vc.activation, mlp, act_, t * iv);
    be.linear(mlp, act_, t, l.fc2.weight, l.fc2.b(), hidden, DType::kF32, true);
    observe(static_cast<int64_t>(i) + 1);
  }
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
    const DevLinear& l = w_->projector[i];
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

void DeviceImpModel::decoder_layers(int64_t n, float* hidden, void* normed, void* qkv, void* attn, void* mlp,
                                    KvCache& cache, const int32_t* slots, const int32_t* positions, int64_t slot,
                                    int64_t past, bool decode_step) {
  Backend& be = *backend_;
  const PhiConfig& c = config_.text;
  const int64_t d = c.hidden_size, hd = c.head_dim(), kv = c.num_kv_heads * hd;
  const int64_t stride = d + 2 * kv;
  const int64_t slot_stride = cache.slot_stride();
  const DType kv_dtype = cache.dtype();
  AttentionShape shape = phi_attention_shape(c, n, past + n);
  shape.q_stride = stride;  // queries sit in the fused [q | k | v] rows
  shape.kv_dtype = kv_dtype;
  for (size_t li = 0; li < w_->text.size(); ++li) {
    const Weights::TextLayer& l = w_->text[li];
    void* k_cache = cache.keys(static_cast<int64_t>(li));
    void* v_cache = cache.values(static_cast<int64_t>(li));
    be.layer_norm(hidden, n, d, l.ln.gamma.as<float>(), l.ln.beta.as<float>(), l.ln.eps, normed, act_);
    be.linear(normed, act_, n, l.qkv.weight, l.qkv.b(), qkv, act_, false);
    // q heads then k heads are contiguous in each qkv row: one rotary pass covers both.
    be.rope_neox(qkv, act_, n, stride, c.num_heads + c.num_kv_heads, hd, c.rotary_dim, positions, c.rope_theta);
    be.store_kv(offset_by(qkv, d, act_), offset_by(qkv, d + kv, act_), act_, n, stride, k_cache, v_cache, kv_dtype,
                kv, slot_stride, slots, positions);
    if (decode_step) {
      be.attention_decode(qkv, k_cache, v_cache, attn, act_, shape, n, slot_stride, slots, positions);
    } else {
      be.attention(qkv, offset_by(k_cache, slot * slot_stride, kv_dtype),
                   offset_by(v_cache, slot * slot_stride, kv_dtype), attn, act_, shape, 1, 0, 0, 0);
    }
    be.linear(attn, act_, n, l.dense.weight, l.dense.b(), hidden, DType::kF32, true);
    be.linear(normed, act_, n, l.fc1.weight, l.fc1.b(), mlp, act_, false);
    be.activation(c.activation, mlp, act_, n * c.intermediate_size);
    be.linear(mlp, act_, n, l.fc2.weight, l.fc2.b(), hidden, DType::kF32, true);
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
  const int64_t d = c.hidden_size, kv = c.num_kv_heads * c.head_dim();
  const size_t a = dtype_size(act_);
  auto* hidden = static_cast<float*>(ensure(be, s.t_hidden, static_cast<size_t>(n * d) * sizeof(float)));
  void* normed = ensure(be, s.t_normed, static_cast<size_t>(n * d) * std::max(a, sizeof(float)));
  void* qkv = ensure(be, s.t_qkv, static_cast<size_t>(n * (d + 2 * kv)) * a);
  void* attn = ensure(be, s.t_attn, static_cast<size_t>(n * d) * a);
  void* mlp = ensure(be, s.t_mlp, static_cast<size_t>(n * c.intermediate_size) * a);
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

  decoder_layers(n, hidden, normed, qkv, attn, mlp, cache, slots, positions, slot, past, false);
  cache.advance(slot, n);
  if (logits == nullptr && last_hidden == nullptr) {
    be.synchronize();
    return;
  }
  const float* last = hidden + (n - 1) * d;
  if (last_hidden != nullptr) {
    // The final LayerNorm in fp32 straight into the host copy's source row.
    auto* out = static_cast<float*>(ensure(be, s.t_final, static_cast<size_t>(d) * sizeof(float)));
    be.layer_norm(last, 1, d, w_->final_norm.gamma.as<float>(), w_->final_norm.beta.as<float>(), w_->final_norm.eps,
                  out, DType::kF32);
    be.copy_to_host(last_hidden, out, static_cast<size_t>(d) * sizeof(float));
  }
  if (logits == nullptr) return;
  auto* out = static_cast<float*>(ensure(be, s.t_logits, static_cast<size_t>(c.vocab_size) * sizeof(float)));
  be.layer_norm(last, 1, d, w_->final_norm.gamma.as<float>(), w_->final_norm.beta.as<float>(), w_->final_norm.eps,
                normed, act_);
  be.linear(normed, act_, 1, w_->lm_head.weight, w_->lm_head.b(), out, DType::kF32, false);
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
  const int64_t d = c.hidden_size, kv = c.num_kv_heads * c.head_dim();
  const size_t a = dtype_size(act_);

  // A recorded graph has its batch size frozen in: one step per batch size. Op by op, one step
  // sized for the largest batch so far serves every smaller one (a server's batches vary from
  // 1 to max_sequences; buffers per size would pile up).
  const bool use_graphs = graphs_ && be.supports_graphs();
  DecodeStep* step = nullptr;
  for (auto& attachment : cache.attachments()) {
    auto* candidate = dynamic_cast<DecodeStep*>(attachment.get());
    if (candidate == nullptr || candidate->model != this || candidate->graphed != use_graphs) continue;
    if (use_graphs ? candidate->batch == batch : candidate->batch >= batch) step = candidate;
  }
  if (step == nullptr && !use_graphs) {  // outgrown: the larger one replaces it
    std::erase_if(cache.attachments(), [&](const auto& attachment) {
      auto* candidate = dynamic_cast<DecodeStep*>(attachment.get());
      return candidate != nullptr && candidate->model == this && !candidate->graphed;
    });
  }
  if (step == nullptr) {
    auto fresh = std::make_unique<DecodeStep>();
    fresh->model = this;
    fresh->batch = batch;
    fresh->graphed = use_graphs;
    const auto n = static_cast<size_t>(batch);
    fresh->ids = be.allocate(n * sizeof(int32_t));
    fresh->slots = be.allocate(n * sizeof(int32_t));
    fresh->positions = be.allocate(n * sizeof(int32_t));
    fresh->hidden = be.allocate(n * static_cast<size_t>(d) * sizeof(float));
    fresh->normed = be.allocate(n * static_cast<size_t>(d) * a);
    fresh->qkv = be.allocate(n * static_cast<size_t>(d + 2 * kv) * a);
    fresh->attn = be.allocate(n * static_cast<size_t>(d) * a);
    fresh->mlp = be.allocate(n * static_cast<size_t>(c.intermediate_size) * a);
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
    decoder_layers(batch, hidden, step->normed.data(), step->qkv.data(), step->attn.data(), step->mlp.data(), cache,
                   step->slots.as<int32_t>(), step->positions.as<int32_t>(), 0, 0, true);
    be.layer_norm(hidden, batch, d, w_->final_norm.gamma.as<float>(), w_->final_norm.beta.as<float>(),
                  w_->final_norm.eps, step->normed.data(), act_);
    be.linear(step->normed.data(), act_, batch, w_->lm_head.weight, w_->lm_head.b(), step->logits.data(), DType::kF32,
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
