// One pool of worker threads shared by every kernel (--threads). parallel_for splits a range
// into contiguous chunks, one per thread, and the calling thread takes part in the work.
#pragma once

#include <condition_variable>
#include <cstddef>
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

  // Calls body(begin, end) over disjoint chunks covering [0, n); chunks are multiples of
  // `grain` (except the last). Returns when all are done. Safe to call from several
  // threads (calls run one after another); a body must not call parallel_for itself.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body);

  // The process-wide pool used by kernels. set_global_threads replaces it.
  static ThreadPool& global();
  static void set_global_threads(int threads);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // serialises parallel_for calls from different threads (the server)
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(size_t, size_t)>* body_ = nullptr;
  size_t n_ = 0;
  size_t chunk_ = 0;
  size_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace lumen
