// Fuzzes PNG decoding (libpng behind decode_image) plus the bicubic resize. Seeds: the PNGs
// in tests/data and fuzz/seeds/png (16-bit, palette, gray+alpha, interlaced).
#include "fuzz_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lumen::fuzz::decode_and_resize(data, size);
}
