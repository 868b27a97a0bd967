// ThreadSanitizer's settings for our test programs (linked into every GoogleTest program of
// the tsan preset), so that they hold however the program is run: by CTest, by hand, or by
// a test that runs another test.
//
// detect_deadlocks=0  TSan's lock-order detector keeps at most 64 held locks per thread and
//                     aborts past that (a CHECK, not a report). Our tests destroy locks while
//                     they are held — a sequential model test ends in any state, a killed
//                     owner never releases — so in thread mode the count only grows. Lock
//                     order is ipcheck's own check (ipc-lock-order); this preset is for races.
// handle_segv=0       A crash is a signal, as in the other builds: the supervisor tests check
//                     that a case killed by SIGSEGV is reported as such.
//
// The suppressions: libstdc++ is not instrumented, so TSan does not see its atomic reference
// counts — a std::exception_ptr's, and the copy-on-write message string a std::runtime_error
// shares with its copies. An exception made in the pool's result thread and rethrown in the
// caller is freed by whichever thread drops the last reference, and TSan reports that free
// against the caller's earlier reads of the exception. Only frames of those two releases are
// suppressed.
extern "C" const char* __tsan_default_options() { return "detect_deadlocks=0 handle_segv=0"; }

extern "C" const char* __tsan_default_suppressions() {
  return "race:std::__exception_ptr::exception_ptr::_M_release\n"
         "race:std::runtime_error::~runtime_error\n";
}
