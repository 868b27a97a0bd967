// mp/hook.h — instrumentation points at each step another process could observe.
//
// MP_HOOK("queue.put.after_reserve") marks such a step. In ordinary builds it compiles to
// nothing. In a build with MP_ENABLE_HOOKS (the ipcheck::mp_hooked library, used by the
// property-test harness), it calls the process's hook function, which may delay, yield, or
// kill the process there, so that tests reach interleavings and failures at exact points.
#pragma once

#if defined(MP_ENABLE_HOOKS)
#include <atomic>

namespace mp::hooks {

// Called with the hook point's name. Must be async-signal-safe enough to run anywhere the
// runtime runs: no locks of the runtime, no allocation on the hot path.
using HookFn = void (*)(const char* point);

// Installs `fn` for this process (and children started by fork); nullptr removes it.
void set_hook(HookFn fn) noexcept;

namespace detail {
extern std::atomic<HookFn> current_hook;
}

inline void fire(const char* point) noexcept {
  if (HookFn fn = detail::current_hook.load(std::memory_order_relaxed)) fn(point);
}

}  // namespace mp::hooks

#define MP_HOOK(point) ::mp::hooks::fire(point)
#else
#define MP_HOOK(point) ((void)0)
#endif
