//===- ThreadPool.cpp - intra-op parallelism ------------------------------===//
//
// A fixed set of workers sleeping on a condition variable. parallelFor
// publishes one job (a loop body and a chunk count), wakes the workers, and
// takes chunks itself; chunks are claimed from an atomic counter so a slow
// thread does not hold up the others. Workers spin briefly after a job before
// sleeping again, because kernels arrive back to back and a futex wake costs
// more than a small kernel. A parallelFor issued from inside a worker (a
// kernel calling a kernel) or while another thread owns the pool runs inline:
// nesting never deadlocks and never oversubscribes.
//
//===----------------------------------------------------------------------===//

#include "onerec/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONEREC_CPU_RELAX() _mm_pause()
#else
#define ONEREC_CPU_RELAX() std::this_thread::yield()
#endif

using namespace onerec::runtime;

namespace {
/// Set while a thread executes chunks of some pool's job.
thread_local bool insideParallelRegion = false;

unsigned threadsFromEnvironment() {
  if (const char *env = std::getenv("ONEREC_NUM_THREADS")) {
    char *end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0)
      return static_cast<unsigned>(std::min(n, 1024L));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
} // namespace

struct ThreadPool::Impl {
  unsigned size = 1;
  std::vector<std::thread> workers;

  /// The current job, written under `mutex` before `generation` is bumped.
  struct Job {
    const std::function<void(int64_t, int64_t)> *fn = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
    uint32_t generation = 0;
  } job;
  /// The job's generation (high 32 bits) and its next unclaimed chunk (low
  /// 32 bits) in one word, so a worker that wakes late can never claim a
  /// chunk of a newer job with the older job's loop body.
  std::atomic<uint64_t> next{0};
  std::atomic<int64_t> chunksDone{0};
  std::atomic<uint32_t> generation{0};
  bool stopping = false;

  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable finished;
  /// Held by the thread whose parallelFor owns the job slot.
  std::mutex submit;

  /// Claims the next chunk of `job`; false when it has none left (or a newer
  /// job has replaced it).
  bool claim(const Job &j, int64_t &chunk) {
    uint64_t v = next.load(std::memory_order_acquire);
    for (;;) {
      if (uint32_t(v >> 32) != j.generation ||
          int64_t(v & 0xffffffffu) >= j.chunks)
        return false;
      if (next.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel))
        break;
    }
    chunk = int64_t(v & 0xffffffffu);
    return true;
  }

  /// Runs chunks of `j` until none are left.
  void runChunks(const Job &j) {
    bool outer = insideParallelRegion;
    insideParallelRegion = true;
    int64_t c;
    while (claim(j, c)) {
      (*j.fn)(j.n * c / j.chunks, j.n * (c + 1) / j.chunks);
      if (chunksDone.fetch_add(1, std::memory_order_acq_rel) + 1 == j.chunks) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.notify_all();
      }
    }
    insideParallelRegion = outer;
  }

  void workerLoop() {
    uint32_t seen = 0;
    for (;;) {
      // Spin a little: the next kernel usually follows within microseconds.
      for (int spin = 0;
           spin < 4000 && generation.load(std::memory_order_acquire) == seen;
           ++spin)
        ONEREC_CPU_RELAX();
      Job j;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stopping || generation.load(std::memory_order_relaxed) != seen;
        });
        if (stopping)
          return;
        j = job;
        seen = j.generation;
      }
      runChunks(j);
    }
  }
};

ThreadPool::ThreadPool(unsigned threads) : impl_(std::make_unique<Impl>()) {
  impl_->size = threads ? threads : threadsFromEnvironment();
  impl_->workers.reserve(impl_->size - 1);
  for (unsigned i = 1; i < impl_->size; ++i)
    impl_->workers.emplace_back([impl = impl_.get()] { impl->workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (std::thread &t : impl_->workers)
    t.join();
}

unsigned ThreadPool::size() const { return impl_->size; }

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)> &fn) {
  if (n <= 0)
    return;
  grain = std::max<int64_t>(grain, 1);
  // A few chunks per thread balance uneven chunks; none below `grain`.
  int64_t chunks = std::min<int64_t>(n / grain, int64_t(impl_->size) * 4);
  if (chunks <= 1 || impl_->size == 1 || insideParallelRegion) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> owner(impl_->submit, std::try_to_lock);
  if (!owner.owns_lock()) {
    // Another thread is using the pool: do the work here rather than wait.
    fn(0, n);
    return;
  }
  Impl &p = *impl_;
  Impl::Job j;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    j.fn = &fn;
    j.n = n;
    j.chunks = chunks;
    j.generation = p.generation.load(std::memory_order_relaxed) + 1;
    p.job = j;
    p.chunksDone.store(0, std::memory_order_relaxed);
    p.next.store(uint64_t(j.generation) << 32, std::memory_order_release);
    p.generation.store(j.generation, std::memory_order_release);
  }
  p.wake.notify_all();
  p.runChunks(j);
  // Wait for chunks still running on workers; spin first, they are short.
  for (int spin = 0;
       spin < 4000 && p.chunksDone.load(std::memory_order_acquire) < chunks;
       ++spin)
    ONEREC_CPU_RELAX();
  std::unique_lock<std::mutex> lock(p.mutex);
  p.finished.wait(lock, [&] {
    return p.chunksDone.load(std::memory_order_acquire) >= chunks;
  });
}
