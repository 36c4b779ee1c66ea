// One pool of worker threads shared by every kernel (--threads). parallel_for splits a range
// into a few chunks per thread; the calling thread and the workers claim chunks from one
// atomic counter until none is left.
//
// Why claim rather than assign: these machines are shared and often oversubscribed (ctest -j,
// a server's HTTP threads). With a fixed chunk per thread, a call lasts as long as its slowest
// descheduled worker; with claiming, the caller simply does the chunks nobody has started, and
// only waits for chunks that are actually running.
//
// Decode runs a few hundred parallel_for calls per token, each only tens of microseconds long,
// so waking sleeping threads through the kernel for each would cost more than the work:
// workers spin briefly after each call (tens of microseconds), then yield, then sleep on a
// futex (std::atomic::wait).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lumen {

class ThreadPool {
 public:
  // threads <= 0 means one per available core.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) over disjoint chunks covering [0, n); chunk bounds are multiples of
  // `grain` (except the end). Returns when all are done. Chunks may run on any thread in any
  // order, so per-thread scratch must be thread_local, never indexed by chunk. Safe to call
  // from several threads (calls run one after another); a body must not call parallel_for.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body);

  // The process-wide pool used by kernels. set_global_threads replaces it.
  static ThreadPool& global();
  static void set_global_threads(int threads);

 private:
  // The claim word packs [call serial: 24 bits | chunk count: 16 bits | next chunk: 24 bits],
  // so one fetch_add both claims a chunk and says which call and how many chunks it has; a
  // worker that wakes late can never run a chunk of a call that has already finished.
  static constexpr int kChunkBits = 24;
  static constexpr int kCountBits = 16;

  void worker_loop();
  // Claims and runs chunks until none is left; returns the serial of the last claim.
  uint64_t run_chunks();

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // serialises parallel_for calls from different threads (the server)
  const std::function<void(size_t, size_t)>* body_ = nullptr;
  size_t n_ = 0;
  size_t chunk_size_ = 0;
  uint64_t serial_ = 0;                  // calls made so far; written under call_mutex_
  std::atomic<uint64_t> claim_{0};       // see above; the serial field is never 0 during a call
  std::atomic<uint32_t> chunks_done_{0};
  std::atomic<uint32_t> wake_{0};        // bumped per call; sleeping workers wait on it
  std::atomic<bool> stopping_{false};
};

}  // namespace lumen
