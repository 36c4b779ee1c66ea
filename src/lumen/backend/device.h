// Choosing where a model runs: `--device cpu`, `--device cuda` or `--device cuda:N`.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "lumen/backend/backend.h"

namespace lumen {

enum class DeviceKind { kCpu, kCuda };

struct DeviceSpec {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;  // cuda:N
  bool is_cpu() const { return kind == DeviceKind::kCpu; }
  std::string to_string() const;
};

// Parses "cpu", "cuda", "cuda:N" (also "gpu" for "cuda"). Throws Error for anything else.
DeviceSpec parse_device(std::string_view text);

// The backend for a device. Throws Error: "lumen was built without CUDA" in a build without
// the CUDA backend, "no CUDA device" when the driver sees none, or when N is out of range.
std::unique_ptr<Backend> make_backend(const DeviceSpec& spec);

// ---- implemented by backend/cuda (or by backend/cuda_stub.cpp in a build without CUDA)
bool cuda_built();
// CUDA devices the driver reports; 0 without CUDA, without a driver or without a GPU.
int cuda_device_count();
// Why there is no device ("no CUDA device: ..."), for skip messages; empty when there is one.
std::string cuda_unavailable_reason();
std::unique_ptr<Backend> make_cuda_backend(int index);

}  // namespace lumen
