#include "lumen/backend/device.h"

#include <charconv>

#include "lumen/core/error.h"

namespace lumen {

std::string DeviceSpec::to_string() const {
  return kind == DeviceKind::kCpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

DeviceSpec parse_device(std::string_view text) {
  DeviceSpec spec;
  if (text == "cpu") return spec;
  std::string_view rest;
  if (text.substr(0, 4) == "cuda") {
    rest = text.substr(4);
  } else if (text.substr(0, 3) == "gpu") {
    rest = text.substr(3);
  } else {
    fail("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
  }
  spec.kind = DeviceKind::kCuda;
  if (rest.empty()) return spec;
  if (rest[0] != ':' || rest.size() == 1) fail("unknown device '", text, "' (expected cpu, cuda or cuda:N)");
  rest = rest.substr(1);
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), spec.index);
  if (ec != std::errc() || end != rest.data() + rest.size() || spec.index < 0) {
    fail("bad device index in '", text, "' (expected cuda:N with N >= 0)");
  }
  return spec;
}

std::unique_ptr<Backend> make_backend(const DeviceSpec& spec) {
  if (spec.is_cpu()) return make_cpu_backend();
  if (!cuda_built()) fail("--device ", spec.to_string(), ": lumen was built without CUDA");
  const int count = cuda_device_count();
  if (count == 0) fail("--device ", spec.to_string(), ": ", cuda_unavailable_reason());
  if (spec.index >= count) {
    fail("--device ", spec.to_string(), ": no such CUDA device (", count, " device", count == 1 ? "" : "s", " found)");
  }
  return make_cuda_backend(spec.index);
}

}  // namespace lumen
