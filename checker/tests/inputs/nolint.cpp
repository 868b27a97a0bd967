#include "mp/mp.h"

void a(mp::Value<int>& v) { v.value() += 1; }  // NOLINT
void b(mp::Value<int>& v) { v.value() += 1; }  // NOLINT(ipc-nonatomic-update)
void c(mp::Value<int>& v) { v.value() += 1; }  // NOLINT(ipc-check-then-act)
// NOLINTNEXTLINE(ipc-*)
void d(mp::Value<int>& v) { v.value() += 1; }
void e(mp::Value<int>& v) { v.value() += 1; }
