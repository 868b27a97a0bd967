// mp/detail/owner.h — who holds a lock, and whether that holder still lives.
//
//   mp::detail::current_tid()   the kernel thread id of the caller (cached per thread)
//   mp::detail::thread_alive()  whether a thread id still names a running thread
//
// A lock records its holder as a kernel thread id (gettid): unique across every process and
// thread alive on the machine at one time, so the same word works in fork, spawn and thread
// mode. Thread ids fit in 30 bits (Linux caps pid_max at 2^22).
//
// Limitation — id reuse: after a holder dies, the kernel may give its id to a new thread.
// If that happens before a waiter looks, the waiter sees a live "holder" and keeps waiting
// (until its timeout) instead of getting mp::OwnerDied. Ids are handed out in increasing
// order up to pid_max before they wrap, so this needs pid_max thread creations in between.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace mp::detail {

namespace owner_internal {
extern constinit thread_local std::uint32_t cached_tid;
std::uint32_t load_tid() noexcept;
}  // namespace owner_internal

// The caller's thread id. No system call after the first call on a thread; a fork child
// refreshes it (pthread_atfork).
inline std::uint32_t current_tid() noexcept {
  std::uint32_t tid = owner_internal::cached_tid;
  return tid != 0 ? tid : owner_internal::load_tid();
}

// False once thread `tid` has exited or was killed, including while its process is a zombie
// not yet reaped by its parent. Costs a kill(2) and a read of /proc/<tid>/stat: for slow
// paths only. A thread of another user counts as alive.
bool thread_alive(std::uint32_t tid) noexcept;

}  // namespace mp::detail
