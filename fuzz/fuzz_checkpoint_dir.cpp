// Fuzzes TensorStore::open_dir, the path a downloaded checkpoint takes, over a real temporary
// directory. The input is split at the first "\n----\n": before it, model.safetensors.index.json;
// after it, the shard it is most likely to name ("model-00001-of-00001.safetensors"). An input
// without the separator is written as a single model.safetensors instead.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "lumen/core/error.h"
#include "lumen/formats/checkpoint.h"

namespace fs = std::filesystem;

namespace {

const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("lumen_fuzz_checkpoint_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = scratch_dir();
  for (const auto& entry : fs::directory_iterator(dir)) fs::remove(entry.path());
  std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSeparator = "\n----\n";
  if (size_t split = input.find(kSeparator); split != std::string_view::npos) {
    write_file(dir / "model.safetensors.index.json", input.substr(0, split));
    write_file(dir / "model-00001-of-00001.safetensors", input.substr(split + kSeparator.size()));
  } else {
    write_file(dir / "model.safetensors", input);
  }
  try {
    auto store = lumen::TensorStore::open_dir(dir);
    volatile uint8_t sink = 0;
    for (const auto& [name, view] : store->tensors()) {
      if (view->nbytes > 0) sink = sink + view->data[0] + view->data[view->nbytes - 1];
      (void)store->find(name);
    }
    (void)store->metadata();
  } catch (const lumen::Error&) {
  }
  return 0;
}
