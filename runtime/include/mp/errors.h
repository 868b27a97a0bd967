// mp/errors.h — the exceptions of the runtime, named after Python's multiprocessing.
//
//   mp::ProcessError        base of every mp exception below
//   mp::Empty / mp::Full    a non-blocking or timed get/put found nothing / no room
//   mp::TimeoutError        a timed wait expired where the API has no bool to return
//   mp::BrokenBarrierError  a Barrier was aborted or reset while a process waited on it
//   mp::AuthenticationError a peer failed the authkey challenge
//   mp::BrokenPool          a Pool worker died while holding a task
//   mp::ManagerGone         the manager server stopped answering
//   mp::OwnerDied           a lock's holder died while holding it (see mp::Lock)
//   mp::EOFError            the peer of a Connection closed it
//   mp::BufferTooShort      recv_bytes_into got a message larger than the buffer
//   mp::RemoteError         an exception raised in another process (type name + message)
//
// OS failures are std::system_error naming the failing call; see mp::detail::throw_errno.
#pragma once

#include <stdexcept>
#include <string>

namespace mp {

class ProcessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Empty : public ProcessError {
 public:
  Empty() : ProcessError("empty") {}
  using ProcessError::ProcessError;
};

class Full : public ProcessError {
 public:
  Full() : ProcessError("full") {}
  using ProcessError::ProcessError;
};

class TimeoutError : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

class BrokenBarrierError : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

// A failed authkey challenge. `peer_closed()`: the peer hung up before the challenge was
// settled, which says nothing about the key (a server that died, a peer that gave up).
class AuthenticationError : public ProcessError {
 public:
  explicit AuthenticationError(const std::string& what, bool peer_closed = false)
      : ProcessError(what), peer_closed_(peer_closed) {}
  [[nodiscard]] bool peer_closed() const noexcept { return peer_closed_; }

 private:
  bool peer_closed_;
};

class BrokenPool : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

class ManagerGone : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

class OwnerDied : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

class EOFError : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

class BufferTooShort : public ProcessError {
 public:
  using ProcessError::ProcessError;
};

// An exception thrown in another process, carried back with its type name and message.
class RemoteError : public ProcessError {
 public:
  RemoteError(std::string type_name, std::string message)
      : ProcessError(type_name + ": " + message),
        type_name_(std::move(type_name)),
        message_(std::move(message)) {}
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

namespace detail {
// Throws std::system_error for errno, with `call` (the failing system call) as its text.
[[noreturn]] void throw_errno(const char* call);
[[noreturn]] void throw_errno(const char* call, int err);
// An invalid operation on shared state: prints `what` and aborts, in every build type,
// because carrying on would corrupt the state other processes see.
[[noreturn]] void fatal(const char* what);
}  // namespace detail

}  // namespace mp
