// Fuzzes the safetensors header parser on whole-file inputs: an 8-byte little-endian header
// length, the JSON header, then the data section. The split mirrors SafetensorsFile::open;
// everything after it is the real parse_safetensors_header. Every tensor it accepts must lie
// inside the data section and hold exactly dtype x shape bytes.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  if (header_len > size - 8) return 0;  // open() refuses this before parsing
  std::string_view header(reinterpret_cast<const char*>(data + 8), header_len);
  // The data section in its own allocation, so AddressSanitizer sees a read past its end.
  std::vector<uint8_t> section(data + 8 + header_len, data + size);
  std::map<std::string, lumen::TensorView> tensors;
  std::map<std::string, std::string> metadata;
  try {
    lumen::parse_safetensors_header(header, section.data(), section.size(), "fuzz.safetensors", &tensors, &metadata);
  } catch (const lumen::Error&) {
    return 0;
  }
  const uint8_t* begin = section.data();
  const uint8_t* end = begin + section.size();
  volatile uint8_t sink = 0;
  for (const auto& [name, view] : tensors) {
    if (view.nbytes == 0) continue;
    if (view.data < begin || view.data + view.nbytes > end) std::abort();
    const uint64_t expected = static_cast<uint64_t>(view.numel()) / lumen::dtype_block(view.dtype) *
                              lumen::dtype_size(view.dtype);
    if (expected != view.nbytes) std::abort();
    sink = sink + view.data[0] + view.data[view.nbytes - 1];
  }
  return 0;
}
