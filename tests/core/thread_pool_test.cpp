#include "lumen/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <thread>
#include <vector>

namespace lumen {
namespace {

// Runs one parallel_for and checks every index is visited exactly once, in grain-aligned chunks.
void expect_exact_cover(ThreadPool& pool, size_t n, size_t grain) {
  std::vector<std::atomic<int>> visits(n);
  std::atomic<int> bad_bounds{0};
  pool.parallel_for(n, grain, [&](size_t begin, size_t end) {
    if (begin >= end || end > n || begin % grain != 0 || (end != n && end % grain != 0)) bad_bounds.fetch_add(1);
    for (size_t i = begin; i < end && i < n; ++i) visits[i].fetch_add(1);
  });
  EXPECT_EQ(bad_bounds.load(), 0) << "n=" << n << " grain=" << grain;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(visits[i].load(), 1) << "index " << i << " n=" << n << " grain=" << grain;
}

TEST(ThreadPool, CoversEveryIndexOnceForManySizesAndThreadCounts) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{1000}, size_t{100003}}) {
      for (size_t grain : {size_t{1}, size_t{3}, size_t{16}, size_t{4096}}) expect_exact_cover(pool, n, grain);
    }
  }
}

TEST(ThreadPool, ZeroLengthCallsNothing) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(0, 1, [&](size_t, size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

// Thousands of back-to-back tiny calls: the decode pattern, where a worker that wakes late
// must never run a chunk of a call that already returned.
TEST(ThreadPool, ManyShortCallsInARowSumCorrectly) {
  ThreadPool pool(3);
  std::vector<long> data(257);
  std::iota(data.begin(), data.end(), 1);
  for (int round = 0; round < 20000; ++round) {
    std::atomic<long> sum{0};
    pool.parallel_for(data.size(), 1, [&](size_t begin, size_t end) {
      long local = 0;
      for (size_t i = begin; i < end; ++i) local += data[i];
      sum.fetch_add(local);
    });
    ASSERT_EQ(sum.load(), 257L * 258 / 2) << "round " << round;
  }
}

// Several threads share one pool (the server): calls are serialised, each still exact.
TEST(ThreadPool, ConcurrentCallersEachGetExactResults) {
  ThreadPool pool(2);
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 500; ++round) {
        const size_t n = 100 + static_cast<size_t>(c * 37 + round % 13);
        std::atomic<size_t> count{0};
        pool.parallel_for(n, 2, [&](size_t begin, size_t end) { count.fetch_add(end - begin); });
        if (count.load() != n) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Workers that have gone to sleep (idle well past the spin window) are woken by the next call.
TEST(ThreadPool, WorkersWakeAfterSleeping) {
  ThreadPool pool(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expect_exact_cover(pool, 5000, 1);
}

}  // namespace
}  // namespace lumen
