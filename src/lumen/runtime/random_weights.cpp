#include "lumen/runtime/random_weights.h"

#include <cstring>

#include "lumen/core/thread_pool.h"
#include "lumen/models/imp_tensors.h"

namespace lumen {

namespace {

// splitmix64 (Steele, Lea & Flood 2014): a fast, well-mixed generator; one per 8 bytes.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Fills `n` bytes of `dtype` (whole rows / blocks) with random values of magnitude ~1/64.
void fill_random(DType dtype, uint8_t* out, size_t n, uint64_t seed) {
  const uint16_t q8_scale = f32_to_f16(0.02f / 64.0f);
  const uint16_t q4_scale = f32_to_f16(0.02f / 4.0f);
  // A multiple of 8 (generator), 4 and 2 (floats) and 34 and 18 (blocks), ~600 KB.
  constexpr size_t kChunk = 8 * 17 * 9 * 512;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  ThreadPool::global().parallel_for(chunks, 1, [&](size_t begin, size_t end) {
    for (size_t c = begin; c < end; ++c) {
      const size_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
      uint64_t state = seed * 0x100000001b3ull + c;
      for (size_t i = lo; i < hi; i += 8) {
        uint64_t r = splitmix64(state++);
        std::memcpy(out + i, &r, std::min<size_t>(8, hi - i));
      }
      switch (dtype) {
        case DType::kF32:  // sign, exponent 2^-6, random mantissa
          for (size_t i = lo; i < hi; i += 4) {
            uint32_t v;
            std::memcpy(&v, out + i, 4);
            v = (v & 0x807fffffu) | (121u << 23);
            std::memcpy(out + i, &v, 4);
          }
          break;
        case DType::kF16:
        case DType::kBF16:
          for (size_t i = lo; i < hi; i += 2) {
            uint16_t v;
            std::memcpy(&v, out + i, 2);
            v = dtype == DType::kF16 ? static_cast<uint16_t>((v & 0x83ffu) | (9u << 10))
                                     : static_cast<uint16_t>((v & 0x807fu) | (121u << 7));
            std::memcpy(out + i, &v, 2);
          }
          break;
        case DType::kQ8_0:
        case DType::kQ4_0: {
          const size_t block = dtype == DType::kQ8_0 ? 34 : 18;
          const uint16_t scale = dtype == DType::kQ8_0 ? q8_scale : q4_scale;
          for (size_t b = lo; b < hi; b += block) std::memcpy(out + b, &scale, 2);
          break;
        }
        default:
          break;
      }
    }
  });
}

}  // namespace

std::unique_ptr<TensorStore> make_random_imp_store(const ImpConfig& config, const QuantOptions& formats, uint64_t seed) {
  auto store = TensorStore::in_memory("random " + config.model_type + " weights");
  uint64_t index = 0;
  for (const TensorSpec& spec : imp_tensor_specs(config)) {
    ++index;
    TensorView probe;
    probe.name = spec.name;
    probe.shape = spec.shape;
    probe.dtype = DType::kF16;
    DType dtype = spec.shape.size() == 1 ? DType::kF32 : DType::kF16;
    if (is_quantizable_matrix(probe)) {
      const std::optional<DType>& choice = is_vision_tensor(spec.name) ? formats.vision : formats.llm;
      if (choice) dtype = converted_dtype(probe, *choice);
    }
    const int64_t count = probe.numel();
    const size_t nbytes = static_cast<size_t>(count) / dtype_block(dtype) * dtype_size(dtype);
    OwnedBytes bytes = TensorStore::allocate(nbytes);
    fill_random(dtype, bytes.get(), nbytes, seed * 1000003 + index);
    if (spec.shape.size() == 1) {
      // Norm weights near 1, biases and norm shifts near 0.
      float* v = reinterpret_cast<float*>(bytes.get());
      const bool gamma = spec.name.find("norm") != std::string::npos && spec.name.ends_with(".weight");
      for (int64_t i = 0; i < count; ++i) v[i] = gamma ? 1.0f + v[i] : v[i];
    }
    store->put(spec.name, dtype, spec.shape, std::move(bytes));
  }
  return store;
}

}  // namespace lumen
