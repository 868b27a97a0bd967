// mp/detail/queue_core.h — the untyped engine under mp::Queue, SimpleQueue and JoinableQueue.
//
//   mp::detail::QueueCore     a handle to a queue of byte strings in shared memory
//   mp::detail::QueueShared   its shared header (layout below)
//   mp::detail::Committed<N>  N words that one side publishes in a single store
//
// Layout. Two memfd Segments, both passed to spawned children like every Segment:
//   - the header page(s) followed by the *ring*: a power-of-two circle of bytes where small
//     items live inline ([u64 header][payload, padded to 8]);
//   - the *arena*: a large sparse memfd (64 GiB of address space by default; pages exist only
//     while they hold data) for items too big for the ring, and for any item while the ring
//     is full. Consumed arena pages are given back to the kernel (fallocate PUNCH_HOLE).
// A large item leaves a header-only *stub* in the ring that says "the next arena block".
// When the ring cannot take even a stub, items go to the arena alone (*overflow* blocks) and
// keep going there until the consumers drained every overflow block, so that the order in
// which consumers find items is the order of the commits.
//
// Two locks, one per side (robust mp::Lock states in the header): producers serialise on the
// producer lock, consumers on the consumer lock, and the two sides meet only through the
// words each side publishes. A side publishes all its words (ring tail, counters, arena
// position) with one release store of a generation number (a two-slot seqlock, Committed),
// and only after the payload is written (producer) or copied out (consumer). A process killed
// anywhere inside put or get therefore leaves the other side's view unchanged or complete,
// never torn: the next holder of the lock gets mp::OwnerDied, finds the committed words
// consistent, and carries on.
//
// Waiting: a get that finds the queue empty (a put that finds it full) spins on the other
// side's generation for a few tens of microseconds, then sleeps on a futex word that the
// other side bumps after a commit only when a sleeper registered: no system call on the fast
// path.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "mp/detail/mutex_state.h"
#include "mp/detail/shared_handle.h"
#include "mp/lock.h"

namespace mp {

// Where a queue keeps its bytes. The defaults suit every use; tests make them small to reach
// the overflow paths.
struct QueueOptions {
  // The ring of small items: a power of two, at least 4096. Items up to an eighth of it
  // (128 KiB by default) live there; larger ones go to the arena.
  std::size_t ring_bytes = std::size_t{1} << 20;
  // Address space reserved for large items and for items put while the ring is full: the
  // most bytes the queue can hold unread (memory is only used for what is unread). A
  // multiple of the page size, at least 64 KiB. An item larger than this can never be put.
  std::size_t arena_bytes = std::size_t{64} << 30;
};

namespace detail {

// N words published by one side in one store: the writer fills the slot that readers do not
// use, then bumps `gen` (release). Readers copy the slot `gen` names and retry if `gen` moved
// meanwhile (a seqlock with two slots, so the writer never waits).
template <std::size_t N>
struct Committed {
  std::atomic<std::uint64_t> gen{0};
  std::atomic<std::uint64_t> slot[2][N]{};

  struct View {
    std::uint64_t v[N];
  };

  // By the side's lock holder: the words as last committed.
  View own() const noexcept {
    View out;
    const auto g = gen.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < N; ++i) out.v[i] = slot[g & 1][i].load(std::memory_order_relaxed);
    return out;
  }
  // By anyone: a consistent snapshot of the last commit.
  View read() const noexcept {
    View out;
    for (;;) {
      const auto g = gen.load(std::memory_order_acquire);
      for (std::size_t i = 0; i < N; ++i) out.v[i] = slot[g & 1][i].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (gen.load(std::memory_order_relaxed) == g) return out;
    }
  }
  // By the side's lock holder: publishes `next` in one store.
  void commit(const View& next) noexcept {
    const auto g = gen.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < N; ++i)
      slot[(g + 1) & 1][i].store(next.v[i], std::memory_order_relaxed);
    gen.store(g + 1, std::memory_order_release);
  }
};

// The producer side's words: ring tail, items put, arena tail, overflow blocks put.
enum ProducerWord : std::size_t { kTail, kItemsPut, kArenaTail, kOverflowPut, kProducerWords };
// The consumer side's words: ring head, items taken, arena head (consumed up to), arena free
// (pages given back up to: producers may reuse the arena up to here), overflow blocks taken.
enum ConsumerWord : std::size_t {
  kHead,
  kItemsGot,
  kArenaHead,
  kArenaFree,
  kOverflowGot,
  kConsumerWords
};

struct QueueShared {
  static constexpr std::uint64_t kMagic = 0x6d702e5175657565;  // "mp.Queue"

  QueueShared(std::uint64_t maxsize, std::uint64_t ring, std::uint64_t arena) noexcept
      : maxsize(maxsize), ring_bytes(ring), arena_bytes(arena) {}

  const std::uint64_t magic = kMagic;
  const std::uint64_t maxsize;  // 0: unbounded
  const std::uint64_t ring_bytes;
  const std::uint64_t arena_bytes;

  // Each side's lock and cache share a cache line that only that side writes; the words it
  // publishes have lines of their own, which the other side reads.
  alignas(64) MutexState producer_mutex;
  // The consumer words as a producer last read them (only ever behind: a conservative view
  // of the room left). Guarded by producer_mutex.
  std::uint64_t consumer_seen[kConsumerWords] = {};
  alignas(64) Committed<kProducerWords> producer;

  alignas(64) MutexState consumer_mutex;
  // The producer words as a consumer last read them. Guarded by consumer_mutex.
  std::uint64_t producer_seen[kProducerWords] = {};
  alignas(64) Committed<kConsumerWords> consumer;

  // Futex words bumped after a commit when someone sleeps, and the sleeper counts.
  alignas(64) std::atomic<std::uint32_t> put_events{0};
  std::atomic<std::uint32_t> getters_waiting{0};
  std::atomic<std::uint32_t> get_events{0};
  std::atomic<std::uint32_t> putters_waiting{0};
  std::atomic<std::uint32_t> task_events{0};
  std::atomic<std::uint32_t> joiners_waiting{0};
  // JoinableQueue: task_done calls so far (unfinished tasks = items put - this).
  std::atomic<std::uint64_t> tasks_done{0};
};

// Called with an item's bytes (in shared memory, valid during the call only).
struct ItemVisitor {
  void (*fn)(void* context, const char* data, std::size_t size);
  void* context;
};

// A handle to one queue of byte strings. Copies name the same queue; `closed` is per copy.
class QueueCore {
 public:
  QueueCore() = default;
  // A new empty queue; maxsize ≤ 0 is unbounded. Throws std::invalid_argument for bad
  // options, std::system_error if memory is refused.
  QueueCore(std::int64_t maxsize, const QueueOptions& options);

  // Appends `size` bytes at `data`. Blocks (if `block`) while the queue is full, at most
  // `timeout` seconds (negative: no limit). Returns false if it did not fit in time.
  // Throws std::length_error if the item can never fit, std::logic_error after close().
  bool put(const void* data, std::size_t size, bool block, double timeout);
  // Takes the oldest item and calls `visit` with its bytes. Blocks (if `block`) while the
  // queue is empty, at most `timeout` seconds. Returns false if none came in time. If
  // `visit` throws, the item is consumed anyway and the exception propagates.
  bool get(bool block, double timeout, ItemVisitor visit);

  [[nodiscard]] std::int64_t qsize() const noexcept;
  [[nodiscard]] std::int64_t maxsize() const noexcept;
  // Arena bytes written and not yet given back (a snapshot), for tests and diagnostics.
  [[nodiscard]] std::uint64_t arena_bytes_held() const noexcept;
  void close() noexcept { closed_ = true; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  // JoinableQueue.
  void task_done();
  bool join(double timeout);

  template <class Archive>
  void save(Archive& archive) const {
    archive(shared_, arena_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(shared_, arena_);
    bind();
  }

 private:
  void bind();
  void check_open(const char* call) const {
    if (closed_) [[unlikely]]
      throw_closed(call);
  }
  [[noreturn]] static void throw_closed(const char* call);
  bool lock_side(Lock& lock, bool producer_side, bool block, double timeout);
  // With the side lock held: one put or get, or false (and the other side's generation seen)
  // if there is no room or no item.
  bool try_put_locked(const void* data, std::size_t size, std::uint64_t& seen_gen);
  bool try_get_locked(ItemVisitor visit, std::exception_ptr& error, std::uint64_t& seen_gen);
  void give_back_arena(Committed<kConsumerWords>::View& c);
  void write_arena_block(std::uint64_t& a_tail, const void* data, std::size_t size);
  const char* read_arena_block(std::uint64_t& a_head, std::uint64_t& size) const;

  SharedPtr<QueueShared> shared_;
  SegmentRef arena_;
  char* ring_ = nullptr;
  char* arena_data_ = nullptr;
  Lock producer_lock_{SharedPtr<MutexState>{}};
  Lock consumer_lock_{SharedPtr<MutexState>{}};
  bool closed_ = false;
};

}  // namespace detail
}  // namespace mp
