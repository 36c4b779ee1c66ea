// Fuzzes JPEG decoding (libjpeg-turbo behind decode_image) plus the bicubic resize. Seeds: the
// JPEGs in tests/data and fuzz/seeds/jpeg (gray, CMYK, progressive).
#include "fuzz_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return lumen::fuzz::decode_and_resize(data, size);
}
