// Helpers for the hostile-input tests: scratch directories, copies of the bundled model with
// one file replaced, raw safetensors bytes, and an expectation that an Error names the problem.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "lumen/core/error.h"
#include "test_data.h"

namespace lumen::hardening {

namespace fs = std::filesystem;

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() / ("lumen_hardening_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, std::string_view bytes) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  template <typename ByteVector>
  fs::path write_bytes(const std::string& name, const ByteVector& bytes) const {
    return write(name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }

 private:
  fs::path path_;
};

// DIR/model: the bundled model's files symlinked, except those in `replaced` (not linked, so
// the test writes or leaves out its own).
inline fs::path copy_bundled_model(const ScratchDir& dir, std::set<std::string> replaced = {}) {
  const fs::path model = dir.path() / "model";
  fs::create_directories(model);
  for (const auto& entry : fs::directory_iterator(testing::bundled_model_dir())) {
    const std::string name = entry.path().filename().string();
    if (!replaced.count(name)) fs::create_symlink(entry.path(), model / name);
  }
  return model;
}

// The bytes of a safetensors file: 8-byte little-endian length (`claimed_len`, or the
// header's real length), the header, then `data`.
inline std::string safetensors_bytes(const std::string& header, const std::string& data,
                                     uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

// Runs fn, expecting a lumen::Error of `kind` whose message contains every fragment. Returns
// the message (empty if none was thrown) so tests can print or check more.
inline std::string expect_error(const std::function<void()>& fn, ErrorKind kind,
                                std::initializer_list<std::string> fragments) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << message;
    for (const std::string& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "missing '" << f << "' in: " << message;
    return message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-lumen exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "accepted; expected an error containing '" << *fragments.begin() << "'";
  return "";
}


}  // namespace lumen::hardening
