// Sharded batch work: `lumen caption --shard K/N` and `lumen index build --shard K/N` each do
// one part of the input, so a cluster scheduler's job array (deploy/slurm/) can spread a large
// collection over many processes, and a rerun redoes only what did not finish.
//
//   partition   contiguous ranges of the ordered input (the expanded file list, or the
//               catalog's items in file order): shard K of N gets items
//               [floor(K*n/N), floor((K+1)*n/N)), so shard sizes differ by at most one and the
//               shards' outputs concatenated in K order are in the unsharded order.
//   atomicity   a shard's output is written to a temporary sibling (PATH.tmp, in the same
//               directory, so the rename cannot cross file systems) and renamed onto PATH only
//               when complete. PATH existing means the shard is done; a leftover PATH.tmp from
//               a killed run is never taken for complete and is simply rewritten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace lumen {

struct ShardSpec {
  int64_t index = 0;  // K, 0-based
  int64_t count = 1;  // N >= 1
};

// Parses "K/N" (decimal, 0 <= K < N). Throws Error naming the problem: "3" (no '/'),
// "a/4", "4/4" (K >= N), "0/0" (N < 1), "-1/4".
ShardSpec parse_shard_spec(const std::string& text);

struct ShardRange {
  size_t begin = 0;  // first item of the shard
  size_t end = 0;    // one past its last item
  size_t size() const { return end - begin; }
};

// The contiguous part of `n` items that shard `spec` owns (see the partition above).
ShardRange shard_range(size_t n, const ShardSpec& spec);

// Where a shard's output is built before it is renamed onto `path`: PATH.tmp, a sibling.
std::filesystem::path shard_temp_path(const std::filesystem::path& path);

// A text file written atomically: everything goes to PATH.tmp (created, or truncated when a
// killed run left one), and commit() flushes, fsyncs and renames it onto PATH. Destroyed
// without commit() (an exception, an early return), it removes PATH.tmp and leaves PATH as it
// was. Throws Error (kIo) when the file cannot be created, written or renamed.
class AtomicTextFile {
 public:
  explicit AtomicTextFile(std::filesystem::path path);
  ~AtomicTextFile();
  AtomicTextFile(const AtomicTextFile&) = delete;
  AtomicTextFile& operator=(const AtomicTextFile&) = delete;

  // Appends text and flushes it to the temporary file, so progress is visible there.
  void write(std::string_view text);
  void commit();
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path path_, temp_;
  std::FILE* file_ = nullptr;
};

}  // namespace lumen
