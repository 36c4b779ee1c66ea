#include "lumen/models/weight_quantization.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/quantize.h"
#include "lumen/kernels/cpu/weights.h"

namespace lumen {

namespace {

bool is_weight_dtype(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kQ8_0 ||
         dtype == DType::kQ4_0;
}

bool is_block(DType dtype) { return dtype_block(dtype) != 1; }

// Gives the whole pages inside [data, data + n) of a read-only file mapping back to the OS;
// they are re-read from the file if touched again.
void release_mapped_pages(const uint8_t* data, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

DType parse_weight_format(const std::string& name) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "f32" || lower == "fp32") return DType::kF32;
  if (lower == "f16" || lower == "fp16") return DType::kF16;
  if (lower == "bf16") return DType::kBF16;
  if (lower == "q8_0") return DType::kQ8_0;
  if (lower == "q4_0") return DType::kQ4_0;
  fail("unknown weight format '", name, "' (expected f32, f16, bf16, q8_0 or q4_0)");
}

std::string weight_format_name(DType dtype) {
  std::string name(dtype_name(dtype));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

bool is_vision_tensor(const std::string& name) {
  return name.find("vision_tower") != std::string::npos || name.find("mm_projector") != std::string::npos ||
         name.find("multi_modal_projector") != std::string::npos;
}

bool is_quantizable_matrix(const TensorView& view) {
  const std::string& name = view.name;
  const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
  return weight && view.shape.size() == 2 && is_weight_dtype(view.dtype) &&
         name.find("position_embedding") == std::string::npos;
}

DType converted_dtype(const TensorView& view, DType target) {
  if (is_block(target) && view.shape.back() % 32 != 0) return view.dtype;
  return target;
}

void convert_matrix(const TensorView& view, int64_t rows, int64_t cols, DType target, uint8_t* out) {
  const size_t src_row = static_cast<size_t>(cols) / dtype_block(view.dtype) * dtype_size(view.dtype);
  const size_t dst_row = static_cast<size_t>(cols) / dtype_block(target) * dtype_size(target);
  ThreadPool::global().parallel_for(static_cast<size_t>(rows), 16, [&](size_t begin, size_t end) {
    std::vector<float> values(static_cast<size_t>(cols));
    for (size_t r = begin; r < end; ++r) {
      convert_row_to_f32(view.dtype, view.data + r * src_row, cols, values.data());
      std::vector<uint8_t> row = quantize_matrix(values.data(), 1, cols, target);
      std::memcpy(out + r * dst_row, row.data(), dst_row);
    }
  });
}

void apply_weight_formats(TensorStore& store, const QuantOptions& options) {
  const bool mapped = !store.dir().empty() && std::filesystem::is_directory(store.dir());
  // A checkpoint written by `lumen quantize` records its formats; loading it opts into the
  // same reduced-precision matmuls as converting at load time would.
  QuantOptions chosen = options;
  auto recorded = [&](const char* key) -> std::optional<DType> {
    auto it = store.metadata().find(key);
    if (it == store.metadata().end()) return std::nullopt;
    return parse_weight_format(it->second);
  };
  if (!chosen.vision) chosen.vision = recorded("lumen.quant.vision");
  if (!chosen.llm) chosen.llm = recorded("lumen.quant.llm");
  std::vector<const TensorView*> views;
  for (const auto& [name, view] : store.tensors()) views.push_back(view);
  for (const TensorView* view : views) {
    if (!is_quantizable_matrix(*view)) continue;
    const std::optional<DType>& choice = is_vision_tensor(view->name) ? chosen.vision : chosen.llm;
    if (!choice) {
      if (is_block(view->dtype)) store.set_reduced_precision(view->name);
      continue;
    }
    const DType target = converted_dtype(*view, *choice);
    if (*choice != DType::kF32) store.set_reduced_precision(view->name);
    if (target == view->dtype) continue;
    const int64_t rows = view->shape[0], cols = view->shape[1];
    OwnedBytes bytes = TensorStore::allocate(static_cast<size_t>(rows * cols) / dtype_block(target) * dtype_size(target));
    convert_matrix(*view, rows, cols, target, bytes.get());
    const uint8_t* old_data = view->data;
    const size_t old_bytes = view->nbytes;
    const std::string name = view->name;
    const std::vector<int64_t> shape = view->shape;
    store.put(name, target, shape, std::move(bytes));
    if (mapped) release_mapped_pages(old_data, old_bytes);
  }
}

}  // namespace lumen
