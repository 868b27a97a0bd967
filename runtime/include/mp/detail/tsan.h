// mp/detail/tsan.h — telling ThreadSanitizer what the runtime's synchronisation means.
//
// In thread mode every "process" is a thread, and ThreadSanitizer checks them. The runtime's
// primitives synchronise through futexes it cannot see, so they say what they do: a lock's
// acquire and release are mutex events (mp_tsan_mutex_*), and a semaphore release, an event
// set or a notify is a release that the matching wake-up acquires (mp_tsan_release /
// mp_tsan_acquire). Built without MP_TSAN (set by CMake for the tsan preset) every macro is
// nothing.
#pragma once

#if defined(MP_TSAN) && MP_TSAN
#include <sanitizer/tsan_interface.h>

#define MP_TSAN_MUTEX_CREATE(addr, flags) \
  __tsan_mutex_create((addr), __tsan_mutex_not_static | (flags))
#define MP_TSAN_MUTEX_PRE_LOCK(addr, flags) __tsan_mutex_pre_lock((addr), (flags))
#define MP_TSAN_MUTEX_POST_LOCK(addr, flags) __tsan_mutex_post_lock((addr), (flags), 0)
#define MP_TSAN_MUTEX_PRE_UNLOCK(addr, flags) __tsan_mutex_pre_unlock((addr), (flags))
#define MP_TSAN_MUTEX_POST_UNLOCK(addr, flags) __tsan_mutex_post_unlock((addr), (flags))
// A condition wait gives up every recursion level of an RLock and takes them back.
#define MP_TSAN_MUTEX_PRE_UNLOCK_ALL(addr) \
  __tsan_mutex_pre_unlock((addr), __tsan_mutex_recursive_unlock)
#define MP_TSAN_MUTEX_POST_LOCK_ALL(addr, flags, levels) \
  __tsan_mutex_post_lock((addr), (flags) | __tsan_mutex_recursive_lock, (levels))
#define MP_TSAN_RELEASE(addr) __tsan_release(addr)
#define MP_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#define MP_TSAN_TRY_LOCK __tsan_mutex_try_lock
#define MP_TSAN_TRY_LOCK_FAILED __tsan_mutex_try_lock_failed
#define MP_TSAN_RECURSIVE __tsan_mutex_write_reentrant
#else
#define MP_TSAN_MUTEX_CREATE(addr, flags) ((void)(flags))
#define MP_TSAN_MUTEX_PRE_LOCK(addr, flags) ((void)(flags))
#define MP_TSAN_MUTEX_POST_LOCK(addr, flags) ((void)(flags))
#define MP_TSAN_MUTEX_PRE_UNLOCK(addr, flags) ((void)(flags))
#define MP_TSAN_MUTEX_POST_UNLOCK(addr, flags) ((void)(flags))
#define MP_TSAN_MUTEX_PRE_UNLOCK_ALL(addr) 0
#define MP_TSAN_MUTEX_POST_LOCK_ALL(addr, flags, levels) ((void)(levels))
#define MP_TSAN_RELEASE(addr) ((void)0)
#define MP_TSAN_ACQUIRE(addr) ((void)0)
#define MP_TSAN_TRY_LOCK 0
#define MP_TSAN_TRY_LOCK_FAILED 0
#define MP_TSAN_RECURSIVE 0
#endif
