#include "mp/errors.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace mp::detail {

void throw_errno(const char* call) { throw_errno(call, errno); }

void throw_errno(const char* call, int err) {
  throw std::system_error(err, std::generic_category(), call);
}

void fatal(const char* what) {
  std::fprintf(stderr, "mp: fatal: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace mp::detail
