// The CUDA entry points in a build without the CUDA backend (CMake found no nvcc, or
// LUMEN_CUDA=OFF): there are no CUDA code paths, only this refusal. CMake leaves this file out
// when it builds src/lumen/backend/cuda.
#include "lumen/backend/device.h"
#include "lumen/core/error.h"

namespace lumen {

bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "lumen was built without CUDA"; }
std::unique_ptr<Backend> make_cuda_backend(int) { fail("lumen was built without CUDA"); }

}  // namespace lumen
