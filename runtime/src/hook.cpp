#include "mp/hook.h"

#if defined(MP_ENABLE_HOOKS)
namespace mp::hooks {
namespace detail {
std::atomic<HookFn> current_hook{nullptr};
}
void set_hook(HookFn fn) noexcept { detail::current_hook.store(fn, std::memory_order_relaxed); }
}  // namespace mp::hooks
#endif
