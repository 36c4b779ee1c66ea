// validate_hnsw_file: hnswlib's loadIndex trusts the sizes and links in its file (a corrupt
// file means out-of-bounds reads at search time), so every field is checked here first.
// Layout of hnswlib 0.6 saveIndex (native endianness, size_t = 8 bytes):
//   header: offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
//           offsetData (size_t each), maxlevel (int32), enterpoint_node (uint32), maxM, maxM0,
//           M (size_t), mult (double), ef_construction (size_t)                 = 96 bytes
//   level 0: count x size_data_per_element bytes, each element
//           [uint32 header: link count (low 16 bits), deleted flag (byte 2)] [maxM0 x uint32 links]
//           [dim x float data] [uint64 label]
//   upper levels, per element: uint32 byte size, then that many bytes = levels x
//           ([uint32 header] [maxM x uint32 links]).
#include <cmath>
#include <cstring>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/retrieval/vector_index.h"

namespace lumen {

namespace {

class Reader {
 public:
  Reader(const MappedFile& file, std::string label) : data_(file.data()), size_(file.size()), label_(std::move(label)) {}
  template <typename T>
  T read() {
    T value;
    need(sizeof(T));
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  const uint8_t* take(uint64_t n) {
    need(n);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t remaining() const { return size_ - pos_; }
  void need(uint64_t n) const {
    if (n > size_ - pos_) fail(label_, ": truncated hnswlib index (needs ", n, " more bytes at offset ", pos_, ")");
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string label_;
};

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

void validate_hnsw_file(const std::filesystem::path& path, int64_t count, int64_t dim) {
  const std::string label = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail_kind(ErrorKind::kNotFound, label, ": missing");
  MappedFile file(path);
  Reader in(file, label);
  const uint64_t offset_level0 = in.read<uint64_t>();
  in.read<uint64_t>();  // max_elements: ignored, the loader passes its own capacity
  const uint64_t elements = in.read<uint64_t>();
  const uint64_t size_per_element = in.read<uint64_t>();
  const uint64_t label_offset = in.read<uint64_t>();
  const uint64_t offset_data = in.read<uint64_t>();
  const int32_t max_level = in.read<int32_t>();
  const uint32_t entry_point = in.read<uint32_t>();
  const uint64_t max_m = in.read<uint64_t>();
  const uint64_t max_m0 = in.read<uint64_t>();
  const uint64_t m = in.read<uint64_t>();
  const double mult = in.read<double>();
  in.read<uint64_t>();  // ef_construction

  if (elements != static_cast<uint64_t>(count)) fail(label, ": holds ", elements, " elements, the manifest says ", count);
  if (m < 2 || m > 10000 || max_m != m || max_m0 != 2 * m) fail(label, ": inconsistent degrees M=", m, " maxM=", max_m, " maxM0=", max_m0);
  if (!(mult > 0) || !std::isfinite(mult)) fail(label, ": invalid level multiplier");
  const uint64_t links0_bytes = max_m0 * 4 + 4;
  const uint64_t links_bytes = max_m * 4 + 4;
  const uint64_t data_bytes = static_cast<uint64_t>(dim) * sizeof(float);
  if (offset_level0 != 0 || offset_data != links0_bytes || label_offset != links0_bytes + data_bytes ||
      size_per_element != label_offset + 8) {
    fail(label, ": element layout does not match vectors of ", dim, " floats");
  }
  if (count > 0 && (max_level < 0 || max_level > 64 || entry_point >= elements)) {
    fail(label, ": invalid entry point or top level");
  }
  // Level 0: the block must be exactly there before looking inside it.
  if (size_per_element != 0 && elements > in.remaining() / size_per_element) fail(label, ": truncated level-0 block");
  const uint8_t* level0 = in.take(elements * size_per_element);
  for (uint64_t i = 0; i < elements; ++i) {
    const uint8_t* element = level0 + i * size_per_element;
    const uint32_t links = read_u32(element) & 0xffffu;
    if (links > max_m0) fail(label, ": element ", i, " has ", links, " level-0 links, more than ", max_m0);
    for (uint32_t j = 0; j < links; ++j) {
      if (read_u32(element + 4 + 4 * j) >= elements) fail(label, ": element ", i, " links to a missing element");
    }
    uint64_t element_label;
    std::memcpy(&element_label, element + label_offset, sizeof(element_label));
    if (element_label != i) fail(label, ": element ", i, " has label ", element_label, " (labels must be 0..n-1 in order)");
    for (int64_t d = 0; d < dim; ++d) {
      float x;
      std::memcpy(&x, element + offset_data + 4 * d, sizeof(x));
      if (!std::isfinite(x)) fail(label, ": element ", i, " holds a non-finite value");
    }
  }
  // Upper levels: first every element's level, then the links, since a link at level l must
  // point at an element that exists at level l (search reads its level-l list).
  std::vector<uint32_t> levels(elements, 0);
  std::vector<const uint8_t*> blocks(elements, nullptr);
  int32_t highest = 0;
  for (uint64_t i = 0; i < elements; ++i) {
    const uint32_t bytes = in.read<uint32_t>();
    if (bytes % links_bytes != 0) fail(label, ": element ", i, " has a malformed upper-level link list");
    levels[i] = static_cast<uint32_t>(bytes / links_bytes);
    if (levels[i] > static_cast<uint32_t>(std::max(max_level, 0))) fail(label, ": element ", i, " is above the top level");
    highest = std::max<int32_t>(highest, static_cast<int32_t>(levels[i]));
    blocks[i] = in.take(bytes);
  }
  for (uint64_t i = 0; i < elements; ++i) {
    for (uint32_t level = 1; level <= levels[i]; ++level) {
      const uint8_t* list = blocks[i] + (level - 1) * links_bytes;
      const uint32_t links = read_u32(list) & 0xffffu;
      if (links > max_m) fail(label, ": element ", i, " has ", links, " links at level ", level, ", more than ", max_m);
      for (uint32_t j = 0; j < links; ++j) {
        const uint32_t target = read_u32(list + 4 + 4 * j);
        if (target >= elements || levels[target] < level) fail(label, ": element ", i, " links to a missing element at level ", level);
      }
    }
  }
  if (count > 0 && static_cast<int32_t>(levels[entry_point]) != max_level) fail(label, ": the entry point is not on the top level");
  if (count > 0 && highest != max_level) fail(label, ": no element reaches the top level ", max_level);
  if (in.remaining() != 0) fail(label, ": ", in.remaining(), " unexpected trailing bytes");
}

}  // namespace lumen
