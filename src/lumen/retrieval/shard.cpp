#include "lumen/retrieval/shard.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "lumen/core/error.h"

namespace lumen {

namespace {

// A whole decimal number with no sign, spaces or leading '+'; false otherwise.
bool parse_count(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

ShardSpec parse_shard_spec(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) fail("--shard ", text, ": expected K/N, e.g. 0/4 (shard K of N, 0 <= K < N)");
  ShardSpec spec;
  if (!parse_count(std::string_view(text).substr(0, slash), &spec.index) ||
      !parse_count(std::string_view(text).substr(slash + 1), &spec.count)) {
    fail("--shard ", text, ": K and N must be whole numbers, as in 0/4");
  }
  if (spec.count < 1) fail("--shard ", text, ": N must be at least 1");
  if (spec.index >= spec.count) fail("--shard ", text, ": K must be below N (shards are numbered 0 to N-1)");
  return spec;
}

ShardRange shard_range(size_t n, const ShardSpec& spec) {
  // floor(K*n/N) in 128 bits: K*n overflows 64 bits only for absurd inputs, but costs nothing.
  const auto bound = [&](int64_t k) {
    return static_cast<size_t>(static_cast<unsigned __int128>(n) * static_cast<uint64_t>(k) /
                               static_cast<uint64_t>(spec.count));
  };
  return {bound(spec.index), bound(spec.index + 1)};
}

std::filesystem::path shard_temp_path(const std::filesystem::path& path) {
  std::filesystem::path p = path.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "idx/" -> "idx.tmp", not "idx/.tmp"
  return p.string() + ".tmp";
}

AtomicTextFile::AtomicTextFile(std::filesystem::path path) : path_(std::move(path)), temp_(shard_temp_path(path_)) {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) fail_kind(ErrorKind::kIo, "cannot create ", temp_.string(), ": ", std::strerror(errno));
}

AtomicTextFile::~AtomicTextFile() {
  if (!file_) return;
  std::fclose(file_);
  std::error_code ec;
  std::filesystem::remove(temp_, ec);
}

void AtomicTextFile::write(std::string_view text) {
  if (!file_) fail_kind(ErrorKind::kInternal, temp_.string(), ": written after commit");
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    fail_kind(ErrorKind::kIo, "cannot write ", temp_.string(), ": ", std::strerror(errno));
  }
}

void AtomicTextFile::commit() {
  if (!file_) fail_kind(ErrorKind::kInternal, temp_.string(), ": committed twice");
  // fsync before the rename: after a crash PATH is either absent or whole, never empty.
  const bool synced = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int saved = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  std::error_code ec;
  if (!synced || !closed) {
    std::filesystem::remove(temp_, ec);
    fail_kind(ErrorKind::kIo, "cannot write ", temp_.string(), ": ", std::strerror(synced ? errno : saved));
  }
  std::filesystem::rename(temp_, path_, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
    fail_kind(ErrorKind::kIo, "cannot rename ", temp_.string(), " to ", path_.string(), ": ", ec.message());
  }
}

}  // namespace lumen
