//===- ThreadPoolTest.cpp - the runtime's intra-op thread pool ------------===//

#include "onerec/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

using onerec::runtime::ThreadPool;

namespace {

TEST(ThreadPool, CoversEveryIndexOnceWithChunksOfAtLeastGrain) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3u);
  for (int64_t n :
       {int64_t(0), int64_t(1), int64_t(7), int64_t(1000), int64_t(100003)})
    for (int64_t grain : {int64_t(1), int64_t(16), int64_t(5000)}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int64_t> smallest{n};
      std::atomic<int> chunks{0};
      pool.parallelFor(n, grain, [&](int64_t begin, int64_t end) {
        ++chunks;
        int64_t len = end - begin;
        int64_t seen = smallest.load();
        while (len < seen && !smallest.compare_exchange_weak(seen, len)) {
        }
        for (int64_t i = begin; i < end; ++i)
          ++hits[size_t(i)];
      });
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[size_t(i)].load(), 1)
            << "n=" << n << " grain=" << grain << " i=" << i;
      }
      if (chunks > 1) {
        EXPECT_GE(smallest.load(), grain);
      }
    }
}

TEST(ThreadPool, RunsManyShortJobsBackToBack) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 2000; ++job)
    pool.parallelFor(64, 1, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 2000 * 64);
}

TEST(ThreadPool, NestedParallelForRunsInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  pool.parallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallelFor(100, 1,
                       [&](int64_t ib, int64_t ie) { total += ie - ib; });
  });
  EXPECT_EQ(total.load(), 800);
}

TEST(ThreadPool, ConcurrentCallersBothComplete) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto work = [&] {
    for (int j = 0; j < 200; ++j)
      pool.parallelFor(1000, 10, [&](int64_t b, int64_t e) { total += e - b; });
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 200 * 1000);
}

TEST(ThreadPool, SizedByEnvironment) {
  ::setenv("ONEREC_NUM_THREADS", "3", 1);
  ThreadPool fromEnv;
  EXPECT_EQ(fromEnv.size(), 3u);
  ::setenv("ONEREC_NUM_THREADS", "zero", 1);
  ThreadPool fallback;
  EXPECT_GE(fallback.size(), 1u);
  ::unsetenv("ONEREC_NUM_THREADS");
  ThreadPool single(1);
  int calls = 0;
  single.parallelFor(100, 1, [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 100);
  });
  EXPECT_EQ(calls, 1);
}

} // namespace
