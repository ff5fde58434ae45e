//===- ThreadPool.h - intra-op parallelism --------------------------------===//
//
// A fixed pool of worker threads, sized to the machine by default, that runs
// parallel loops for kernels. parallelFor splits [0, n) into contiguous
// chunks of at least `grain` iterations; the calling thread takes part, so a
// pool of one thread runs everything inline.
//
//===----------------------------------------------------------------------===//
#ifndef ONEREC_RUNTIME_THREADPOOL_H
#define ONEREC_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>
#include <memory>

namespace onerec::runtime {

class ThreadPool {
public:
  /// `threads` = 0 means one per logical core (or ONEREC_NUM_THREADS).
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const;
  /// Calls fn(begin, end) on disjoint chunks covering [0, n); returns when all
  /// are done. Chunks hold at least `grain` iterations.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)> &fn);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace onerec::runtime

#endif // ONEREC_RUNTIME_THREADPOOL_H
