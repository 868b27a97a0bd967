// The engine of mp::Queue (mp/detail/queue_core.h): ring, arena, commits and waits.
#include "mp/detail/queue_core.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "mp/detail/futex.h"
#include "mp/detail/tsan.h"
#include "mp/errors.h"
#include "mp/hook.h"

namespace mp::detail {
namespace {

using u64 = std::uint64_t;

constexpr u64 kPage = 4096;
// Record and block headers: the payload length, and in the top bits what the record is.
constexpr u64 kKindMask = u64{3} << 62;
constexpr u64 kLengthMask = ~kKindMask;
constexpr u64 kInline = 0;           // the payload follows
constexpr u64 kStub = u64{1} << 62;  // ring only: the payload is the next arena block
constexpr u64 kPad = u64{2} << 62;   // the rest of this lap is unused: go on at the next lap
constexpr u64 kHeader = sizeof(u64);

// Spinning beats sleeping when the other side is about to act: a wake-up costs ~50 us here.
// No sched_yield while spinning: on a loaded machine one yield gave the CPU away for ~10 ms,
// while a futex sleeper is woken with the scheduler's wake-up preference.
constexpr std::int64_t kSpinNs = 30'000;
// While spinning, `gen` is read after 1, 2, 4, ... up to this many pause instructions.
constexpr int kMaxBackoff = 16;
// A sleeper looks again at least this often, in case the process that should have woken it
// was killed between its commit and the wake-up.
constexpr std::int64_t kMaxSleepNs = 100'000'000;

constexpr u64 round8(u64 n) { return (n + 7) & ~u64{7}; }
constexpr u64 header_bytes() { return (sizeof(QueueShared) + kPage - 1) / kPage * kPage; }

u64 load_header(const char* at) {
  u64 h;
  std::memcpy(&h, at, sizeof h);
  return h;
}
void store_header(char* at, u64 h) { std::memcpy(at, &h, sizeof h); }

// A large payload is copied in two halves with a hook between, so that tests can kill a
// producer with half an item written.
void copy_payload(char* to, const void* from, u64 size) {
  if (size >= 2 * kPage) {
    const u64 half = size / 2;
    std::memcpy(to, from, half);
    MP_HOOK("queue.put.mid_payload");
    std::memcpy(to + half, static_cast<const char*>(from) + half, size - half);
  } else if (size != 0) {
    std::memcpy(to, from, size);
  }
}

// Bytes a record of `bytes` at offset `phys` takes in a circle of `capacity`, counting the padding
// that skips to the next lap when it would not fit before the end.
u64 with_padding(u64 bytes, u64 capacity, u64 phys) {
  return phys + bytes > capacity ? (capacity - phys) + bytes : bytes;
}

double seconds_left(const Deadline& deadline) {
  if (deadline.infinite()) return -1;
  const std::int64_t left = deadline.remaining_ns();
  return left > 0 ? static_cast<double>(left) / 1e9 : 0.0;
}

// Sleeping and waking. `events` is a futex word: even while sleepers may be waiting for a
// wake-up, odd once a waker has woken them and no sleeper has armed it again since. So a
// burst of commits while a sleeper is still on its way back to a CPU costs one FUTEX_WAKE,
// not one per commit.

// Waits until `gen` no longer holds `seen` (true) or the deadline passes (false): spins
// first, then sleeps on `events` registered in `waiting` (see signal_change). While it
// spins, it waits for `gen` to move by `enough` (a wait on a full queue: for some room, not
// for the first free slot, so that producer and consumer do not trade the lines of their
// words at every item); once it would sleep, any change will do.
bool wait_for_change(const std::atomic<u64>& gen, u64 seen, std::atomic<std::uint32_t>& events,
                     std::atomic<std::uint32_t>& waiting, const Deadline& deadline,
                     u64 enough = 1) {
  const std::int64_t start = monotonic_ns();
  for (int backoff = 1;;) {
    if (gen.load(std::memory_order_acquire) - seen >= enough) return true;
    for (int i = 0; i < backoff; ++i) cpu_relax();
    if (backoff < kMaxBackoff) backoff *= 2;
    if (monotonic_ns() - start >= kSpinNs) break;
    if (deadline.expired()) return false;
  }
  for (;;) {
    waiting.fetch_add(1, std::memory_order_seq_cst);
    std::uint32_t armed = events.load(std::memory_order_seq_cst);
    while ((armed & 1) != 0 &&
           !events.compare_exchange_weak(armed, armed + 1, std::memory_order_seq_cst)) {
    }
    if ((armed & 1) != 0) ++armed;
    if (gen.load(std::memory_order_seq_cst) != seen) {
      waiting.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    timespec ts;
    bool expired = false;
    const timespec* relative = deadline.slice(kMaxSleepNs, ts, expired);
    if (!expired) {
      MP_HOOK("queue.wait.before_sleep");
      (void)futex_wait(&events, armed, relative);
    }
    waiting.fetch_sub(1, std::memory_order_relaxed);
    if (gen.load(std::memory_order_acquire) != seen) return true;
    if (expired || deadline.expired()) return false;
  }
}

// After a commit and the release of the side's lock: wakes the sleepers of wait_for_change,
// if any registered and nobody woke them yet. A full fence between the commit and the load
// of `waiting` pairs with the sleeper's registration: either it sees the new generation or
// this sees it. On x86 the lock release (an exchange, a locked instruction) is that fence
// already, and an mfence would cost as much again on the fast path.
void signal_change(std::atomic<std::uint32_t>& events, std::atomic<std::uint32_t>& waiting) {
#if defined(__x86_64__) || defined(__i386__)
  std::atomic_signal_fence(std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  if (waiting.load(std::memory_order_relaxed) == 0) return;
  std::uint32_t armed = events.load(std::memory_order_seq_cst);
  if ((armed & 1) == 0 &&
      events.compare_exchange_strong(armed, armed + 1, std::memory_order_seq_cst))
    futex_wake(&events, INT_MAX);
}

// How many consumer commits a producer that found the queue full spins for: an eighth of a
// bound, at most 64 (a ring full of small records has thousands).
u64 commits_worth_waiting_for(u64 maxsize) {
  constexpr u64 kMost = 64;
  return maxsize == 0 ? kMost : std::clamp<u64>(maxsize / 8, 1, kMost);
}

// Releases a side's lock at the end of a scope.
class SideGuard {
 public:
  explicit SideGuard(Lock& lock) : lock_(lock) {}
  ~SideGuard() { lock_.release(); }
  SideGuard(const SideGuard&) = delete;
  SideGuard& operator=(const SideGuard&) = delete;

 private:
  Lock& lock_;
};

}  // namespace

QueueCore::QueueCore(std::int64_t maxsize, const QueueOptions& options) {
  const u64 ring = options.ring_bytes;
  const u64 arena = options.arena_bytes;
  if (ring < kPage || (ring & (ring - 1)) != 0)
    throw std::invalid_argument("mp::Queue: ring_bytes must be a power of two of at least 4096");
  if (arena < 16 * kPage || arena % kPage != 0)
    throw std::invalid_argument(
        "mp::Queue: arena_bytes must be a multiple of 4096 of at least 64 KiB");
  auto segment = Segment::create(header_bytes() + ring, "mp.Queue");
  auto* state =
      new (segment->data()) QueueShared(maxsize > 0 ? static_cast<u64>(maxsize) : 0, ring, arena);
  MP_TSAN_MUTEX_CREATE(&state->producer_mutex, 0);
  MP_TSAN_MUTEX_CREATE(&state->consumer_mutex, 0);
  shared_ = SharedPtr<QueueShared>(SegmentRef(std::move(segment)), state);
  arena_ = SegmentRef(Segment::create(arena, "mp.Queue.arena"));
  bind();
}

void QueueCore::bind() {
  if (shared_->magic != QueueShared::kMagic) fatal("mp::Queue: the shared state is not a queue");
  ring_ = reinterpret_cast<char*>(shared_.get()) + header_bytes();
  arena_data_ = static_cast<char*>(arena_.data());
  producer_lock_ = Lock(shared_.sibling(&shared_->producer_mutex));
  consumer_lock_ = Lock(shared_.sibling(&shared_->consumer_mutex));
}

void QueueCore::throw_closed(const char* call) {
  throw std::logic_error(std::string(call) + ": the queue is closed");
}

std::int64_t QueueCore::maxsize() const noexcept {
  return static_cast<std::int64_t>(shared_->maxsize);
}

std::int64_t QueueCore::qsize() const noexcept {
  // Consumer words first: items taken never exceed items put at any later moment.
  const auto c = shared_->consumer.read();
  const auto p = shared_->producer.read();
  return static_cast<std::int64_t>(p.v[kItemsPut] - c.v[kItemsGot]);
}

std::uint64_t QueueCore::arena_bytes_held() const noexcept {
  const auto c = shared_->consumer.read();
  const auto p = shared_->producer.read();
  return p.v[kArenaTail] - c.v[kArenaFree];
}

bool QueueCore::lock_side(Lock& lock, bool producer_side, bool block, double timeout) {
  try {
    return lock.acquire(true, block ? timeout : -1);
  } catch (const OwnerDied&) {
    // The dead holder committed all or nothing; only its cached view of the other side may
    // be half-written. Zero is the most conservative view: the next step reads it afresh.
    QueueShared& s = *shared_;
    if (producer_side) {
      std::memset(s.consumer_seen, 0, sizeof s.consumer_seen);
    } else {
      std::memset(s.producer_seen, 0, sizeof s.producer_seen);
    }
    lock.mark_consistent();
    MP_HOOK("queue.lock.repaired");
    return true;
  }
}

// ---- put ----

bool QueueCore::put(const void* data, std::size_t size, bool block, double timeout) {
  check_open("mp::Queue::put");
  const u64 record = kHeader + round8(size);
  if (size > kLengthMask || record + kPage > shared_->arena_bytes)
    throw std::length_error("mp::Queue::put: an item of " + std::to_string(size) +
                            " bytes can never fit (QueueOptions::arena_bytes is " +
                            std::to_string(shared_->arena_bytes) + ")");
  QueueShared& s = *shared_;
  const Deadline deadline(block ? timeout : -1);
  for (;;) {
    if (!lock_side(producer_lock_, true, block, seconds_left(deadline))) return false;
    u64 seen = 0;
    bool done;
    {
      SideGuard guard(producer_lock_);
      MP_HOOK("queue.put.after_lock");
      done = try_put_locked(data, size, seen);
    }
    if (done) {
      signal_change(s.put_events, s.getters_waiting);
      return true;
    }
    if (!block) return false;
    if (!wait_for_change(s.consumer.gen, seen, s.get_events, s.putters_waiting, deadline,
                         commits_worth_waiting_for(s.maxsize)))
      return false;
  }
}

bool QueueCore::try_put_locked(const void* data, std::size_t size, u64& seen_gen) {
  QueueShared& s = *shared_;
  const u64 ring = s.ring_bytes;
  const u64 arena = s.arena_bytes;
  auto p = s.producer.own();
  u64* c = s.consumer_seen;
  const u64 record = kHeader + round8(size);

  auto ring_fits = [&](u64 bytes) {
    const u64 tail = p.v[kTail];
    return tail + with_padding(bytes, ring, tail & (ring - 1)) - c[kHead] <= ring;
  };
  auto arena_fits = [&] {
    const u64 tail = p.v[kArenaTail];
    return tail + with_padding(record, arena, tail % arena) - c[kArenaFree] <= arena;
  };
  enum class Where { kNowhere, kRing, kStub, kOverflow } where = Where::kNowhere;
  for (int attempt = 0; attempt < 2 && where == Where::kNowhere; ++attempt) {
    if (attempt == 1) {
      // The cached view said no (or only "overflow"): look at the consumers' latest commit.
      seen_gen = s.consumer.gen.load(std::memory_order_acquire);
      const auto fresh = s.consumer.read();
      std::memcpy(c, fresh.v, sizeof fresh.v);
    }
    if (s.maxsize != 0 && p.v[kItemsPut] - c[kItemsGot] >= s.maxsize) continue;
    // Items go to the arena alone while older overflow blocks wait there: consumers take the
    // ring first, so a ring item put now would overtake them.
    if (p.v[kOverflowPut] == c[kOverflowGot]) {
      if (record <= ring / 8 && ring_fits(record)) {
        where = Where::kRing;
      } else if (ring_fits(kHeader) && arena_fits()) {
        where = Where::kStub;
      }
    }
    // Overflow only on a fresh view: a stale one may still count overflow blocks that the
    // consumers took long ago, and would send every later item to the arena.
    if (where == Where::kNowhere && attempt == 1 && arena_fits()) where = Where::kOverflow;
  }
  if (where == Where::kNowhere) return false;

  // Places a ring record of `bytes`, padding to the next lap if needed; returns its offset.
  auto place_in_ring = [&](u64 bytes) {
    u64 phys = p.v[kTail] & (ring - 1);
    if (phys + bytes > ring) {
      store_header(ring_ + phys, kPad);
      p.v[kTail] += ring - phys;
      phys = 0;
    }
    p.v[kTail] += bytes;
    return phys;
  };
  switch (where) {
    case Where::kRing: {
      const u64 at = place_in_ring(record);
      copy_payload(ring_ + at + kHeader, data, size);
      store_header(ring_ + at, kInline | size);
      break;
    }
    case Where::kStub:
      write_arena_block(p.v[kArenaTail], data, size);
      store_header(ring_ + place_in_ring(kHeader), kStub | size);
      break;
    case Where::kOverflow:
      write_arena_block(p.v[kArenaTail], data, size);
      ++p.v[kOverflowPut];
      break;
    case Where::kNowhere:
      break;
  }
  ++p.v[kItemsPut];
  MP_HOOK("queue.put.before_commit");
  s.producer.commit(p);
  MP_HOOK("queue.put.after_commit");
  return true;
}

void QueueCore::write_arena_block(u64& tail, const void* data, std::size_t size) {
  const u64 arena = shared_->arena_bytes;
  const u64 block = kHeader + round8(size);
  u64 phys = tail % arena;
  if (phys + block > arena) {
    store_header(arena_data_ + phys, kPad);
    tail += arena - phys;
    phys = 0;
  }
  copy_payload(arena_data_ + phys + kHeader, data, size);
  store_header(arena_data_ + phys, kInline | size);
  tail += block;
}

// ---- get ----

bool QueueCore::get(bool block, double timeout, ItemVisitor visit) {
  check_open("mp::Queue::get");
  QueueShared& s = *shared_;
  const Deadline deadline(block ? timeout : -1);
  for (;;) {
    if (!lock_side(consumer_lock_, false, block, seconds_left(deadline))) return false;
    u64 seen = 0;
    std::exception_ptr error;
    bool got;
    {
      SideGuard guard(consumer_lock_);
      MP_HOOK("queue.get.after_lock");
      got = try_get_locked(visit, error, seen);
    }
    if (got) {
      signal_change(s.get_events, s.putters_waiting);
      if (error) std::rethrow_exception(error);
      return true;
    }
    if (!block) return false;
    if (!wait_for_change(s.producer.gen, seen, s.put_events, s.getters_waiting, deadline))
      return false;
  }
}

bool QueueCore::try_get_locked(ItemVisitor visit, std::exception_ptr& error, u64& seen_gen) {
  QueueShared& s = *shared_;
  const u64 ring = s.ring_bytes;
  auto c = s.consumer.own();
  u64* p = s.producer_seen;
  auto available = [&] { return c.v[kHead] < p[kTail] || c.v[kOverflowGot] < p[kOverflowPut]; };
  if (!available()) {
    seen_gen = s.producer.gen.load(std::memory_order_acquire);
    const auto fresh = s.producer.read();
    std::memcpy(p, fresh.v, sizeof fresh.v);
    if (!available()) return false;
  }

  const char* data;
  u64 size;
  if (c.v[kHead] < p[kTail]) {
    u64 head = c.v[kHead];
    u64 header = load_header(ring_ + (head & (ring - 1)));
    if ((header & kKindMask) == kPad) {
      head += ring - (head & (ring - 1));
      header = load_header(ring_ + (head & (ring - 1)));
    }
    size = header & kLengthMask;
    if ((header & kKindMask) == kInline) {
      data = ring_ + (head & (ring - 1)) + kHeader;
      head += kHeader + round8(size);
    } else if ((header & kKindMask) == kStub) {
      u64 block_size = 0;
      data = read_arena_block(c.v[kArenaHead], block_size);
      if (block_size != size) fatal("mp::Queue: a ring stub disagrees with its arena block");
      head += kHeader;
    } else {
      fatal("mp::Queue: corrupt ring record");
    }
    c.v[kHead] = head;
  } else {
    data = read_arena_block(c.v[kArenaHead], size);
    ++c.v[kOverflowGot];
  }
  ++c.v[kItemsGot];
  try {
    visit.fn(visit.context, data, size);
  } catch (...) {
    error = std::current_exception();  // the item is consumed all the same, as in Python
  }
  MP_HOOK("queue.get.before_commit");
  s.consumer.commit(c);
  MP_HOOK("queue.get.after_commit");
  give_back_arena(c);
  return true;
}

const char* QueueCore::read_arena_block(u64& head, u64& size) const {
  const u64 arena = shared_->arena_bytes;
  u64 phys = head % arena;
  u64 header = load_header(arena_data_ + phys);
  if ((header & kKindMask) == kPad) {
    head += arena - phys;
    phys = 0;
    header = load_header(arena_data_);
  }
  if ((header & kKindMask) != kInline) fatal("mp::Queue: corrupt arena block");
  size = header & kLengthMask;
  head += kHeader + round8(size);
  return arena_data_ + phys + kHeader;
}

// Gives the whole pages below the arena head back to the kernel, then lets producers reuse
// them. In that order: a producer may write a page again only after it is punched, and a
// consumer killed in between leaves pages punched that held nothing unread.
void QueueCore::give_back_arena(Committed<kConsumerWords>::View& c) {
  const u64 arena = shared_->arena_bytes;
  const u64 upto = c.v[kArenaHead] & ~(kPage - 1);
  u64 from = c.v[kArenaFree];
  if (upto <= from) return;
  while (from < upto) {
    const u64 phys = from % arena;
    const u64 length = std::min(upto - from, arena - phys);
    // Best effort: without hole punching the pages stay allocated, which is only memory.
    (void)::fallocate(arena_.get()->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(phys), static_cast<off_t>(length));
    from += length;
  }
  c.v[kArenaFree] = upto;
  shared_->consumer.commit(c);
}

// ---- JoinableQueue ----

void QueueCore::task_done() {
  QueueShared& s = *shared_;
  u64 done = s.tasks_done.load(std::memory_order_relaxed);
  for (;;) {
    if (done >= s.producer.read().v[kItemsPut])
      throw std::logic_error("mp::JoinableQueue::task_done: called too many times");
    if (s.tasks_done.compare_exchange_weak(done, done + 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
      break;
  }
  signal_change(s.task_events, s.joiners_waiting);
}

bool QueueCore::join(double timeout) {
  QueueShared& s = *shared_;
  const Deadline deadline(timeout);
  for (;;) {
    const u64 done = s.tasks_done.load(std::memory_order_acquire);
    if (done >= s.producer.read().v[kItemsPut]) return true;
    if (!wait_for_change(s.tasks_done, done, s.task_events, s.joiners_waiting, deadline))
      return false;
  }
}

}  // namespace mp::detail
