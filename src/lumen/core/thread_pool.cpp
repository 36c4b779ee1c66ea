#include "lumen/core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LUMEN_CPU_RELAX() _mm_pause()
#else
#define LUMEN_CPU_RELAX() std::this_thread::yield()
#endif

namespace lumen {

namespace {
// An idle worker spins this long before yielding, which covers the gaps between the kernels
// of one decode step; after kYieldFor more it sleeps.
constexpr auto kSpinFor = std::chrono::microseconds(50);
constexpr auto kYieldFor = std::chrono::microseconds(2000);
// Several chunks per thread, so a thread that was descheduled costs little.
constexpr size_t kChunksPerThread = 4;

constexpr uint64_t field(uint64_t word, int shift, int bits) { return (word >> shift) & ((uint64_t{1} << bits) - 1); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

uint64_t ThreadPool::run_chunks() {
  while (true) {
    const uint64_t word = claim_.fetch_add(1, std::memory_order_acq_rel);
    const uint64_t serial = word >> (kChunkBits + kCountBits);
    const uint64_t count = field(word, kChunkBits, kCountBits);
    const uint64_t chunk = field(word, 0, kChunkBits);
    if (chunk >= count) return serial;
    // A valid claim keeps its call open (chunks_done_ < count), so body_, n_ and
    // chunk_size_ are still that call's.
    const size_t begin = static_cast<size_t>(chunk) * chunk_size_;
    const size_t end = std::min(n_, begin + chunk_size_);
    (*body_)(begin, end);
    chunks_done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  uint64_t last_serial = 0;
  auto has_new_call = [&] {
    return (claim_.load(std::memory_order_acquire) >> (kChunkBits + kCountBits)) != last_serial;
  };
  while (!stopping_.load(std::memory_order_acquire)) {
    if (has_new_call()) {
      last_serial = run_chunks();
      continue;
    }
    const uint32_t wake = wake_.load(std::memory_order_acquire);
    const auto start = std::chrono::steady_clock::now();
    bool found = false;
    while (!found && !stopping_.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64 && !(found = has_new_call()); ++i) LUMEN_CPU_RELAX();
      if (found) break;
      const auto idle = std::chrono::steady_clock::now() - start;
      if (idle > kSpinFor + kYieldFor) break;
      if (idle > kSpinFor) std::this_thread::yield();
    }
    if (!found && !has_new_call()) wake_.wait(wake, std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  const size_t threads = static_cast<size_t>(size());
  const size_t units = (n + grain - 1) / grain;
  if (threads == 1 || units == 1) {
    body(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  const size_t max_chunks = std::min<size_t>(threads * kChunksPerThread, (size_t{1} << kCountBits) - 1);
  const size_t chunk_units = (units + std::min(units, max_chunks) - 1) / std::min(units, max_chunks);
  chunk_size_ = chunk_units * grain;
  const uint64_t count = (n + chunk_size_ - 1) / chunk_size_;
  body_ = &body;
  n_ = n;
  serial_ = serial_ % ((uint64_t{1} << (64 - kChunkBits - kCountBits)) - 1) + 1;  // never 0
  chunks_done_.store(0, std::memory_order_relaxed);
  claim_.store((serial_ << (kChunkBits + kCountBits)) | (count << kChunkBits), std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_all();
  run_chunks();
  // Every chunk is claimed; wait for those still running on workers. Spin briefly, then
  // yield: on an oversubscribed machine a worker may be descheduled mid-chunk.
  for (int spin = 0; chunks_done_.load(std::memory_order_acquire) != count; ++spin) {
    if (spin < 4096) {
      LUMEN_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  // Leave no claimable chunks behind (the counter already says so; this also keeps late
  // workers' increments from ever reaching the count field).
  claim_.store(serial_ << (kChunkBits + kCountBits), std::memory_order_release);
}

namespace {
std::unique_ptr<ThreadPool>& global_pool() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
std::mutex& global_pool_mutex() {
  static std::mutex mutex;
  return mutex;
}
}  // namespace

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> lock(global_pool_mutex());
  auto& pool = global_pool();
  if (!pool) pool = std::make_unique<ThreadPool>(0);
  return *pool;
}

void ThreadPool::set_global_threads(int threads) {
  std::lock_guard<std::mutex> lock(global_pool_mutex());
  global_pool() = std::make_unique<ThreadPool>(threads);
}

}  // namespace lumen
