// Manager proxies against mp::models::Dict / List / Namespace: sequentially in one process,
// and concurrently from processes under fork, thread and spawn with schedule noise (every
// proxy call is one request the server serves whole: it must be linearizable). Kills: a
// client killed mid-call loses nothing the server holds; once the server is killed, every
// later call fails with mp::ManagerGone (mp::models::Served), never hangs. And a client-side
// read-modify-write (the lost update Python users make with d[k] += 1) must be caught.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>
#include <stdexcept>
#include <system_error>

#include "ipcheck/proptest/rapidcheck.h"
#include "ipcheck/proptest/stateful.h"
#include "mp/managers.h"
#include "mp/models/dict.h"
#include "mp/models/served.h"

namespace ipcheck::proptest {
namespace {

namespace m = mp::models;
using I = std::int64_t;
using DictOp = m::DictOp<I, I>;
using D = m::DictOpKind;
using ListOp = m::ListOp<I>;
using L = m::ListOpKind;
using NsOp = m::NamespaceOp;
using N = m::NamespaceOpKind;

const std::vector<StartMode> kAllModes = {StartMode::kFork, StartMode::kThread, StartMode::kSpawn,
                                          StartMode::kForkserver};

I add(I current, I amount) { return current + amount; }

// A server forked from the case process (in every start mode: the branches are what the
// mode is about), with `add` for update_with. Only the proxies and the server's pid travel
// to a spawned branch; the case process owns the manager and shuts it down.
std::shared_ptr<mp::SyncManager> start_manager() {
  mp::ManagerOptions options;
  options.context = mp::get_context(mp::kFork);
  auto manager = std::make_shared<mp::SyncManager>(std::nullopt, std::nullopt, options);
  manager->register_function<&add>("add");
  manager->start();
  return manager;
}

// What a proxy call's outcome means in the models' terms: KeyError, IndexError and
// AttributeError are kMissing, a dead server is kGone. Anything else is a failure.
template <class Call>
m::Reply<I> reply_of(Call&& call) {
  try {
    return call();
  } catch (const std::out_of_range&) {
    return {m::Status::kMissing};
  } catch (const mp::RemoteError& e) {
    if (e.type_name() == "AttributeError") return {m::Status::kMissing};
    throw;
  } catch (const mp::ManagerGone&) {
    return {m::Status::kGone};
  }
}

// `atomic_add` false: add is the client-side d[k] = d.get(k) + x, two requests.
m::Reply<I> run_dict_op(mp::DictProxy<I, I>& dict, const DictOp& op, bool atomic_add = true) {
  return reply_of([&]() -> m::Reply<I> {
    switch (op.kind) {
      case D::kGet:
        return m::ok(dict[op.key]);
      case D::kSet:
        dict.set(op.key, op.value);
        return {};
      case D::kDel:
        dict.erase(op.key);
        return {};
      case D::kContains:
        return {dict.contains(op.key) ? m::Status::kOk : m::Status::kFalse};
      case D::kLen:
        return m::ok(static_cast<I>(dict.size()));
      case D::kAdd:
        if (atomic_add) return m::ok(dict.update_with(op.key, "add", op.value));
        {
          const I updated = dict.get(op.key, 0) + op.value;
          dict.set(op.key, updated);
          return m::ok(updated);
        }
    }
    return {m::Status::kValueError};
  });
}

struct DictSut {
  std::shared_ptr<mp::SyncManager> manager;  // the case process's only
  mp::DictProxy<I, I> dict;
  bool atomic_add = true;

  static DictSut make(bool atomic_add = true) {
    DictSut sut;
    sut.manager = start_manager();
    sut.dict = sut.manager->dict<I, I>();
    sut.atomic_add = atomic_add;
    return sut;
  }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(dict, atomic_add);
  }
  m::Reply<I> run(ProcessId, const DictOp& op) { return run_dict_op(dict, op, atomic_add); }
};

struct ListSut {
  std::shared_ptr<mp::SyncManager> manager;
  mp::ListProxy<I> list;

  static ListSut make() {
    ListSut sut;
    sut.manager = start_manager();
    sut.list = sut.manager->list<I>();
    return sut;
  }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(list);
  }
  m::Reply<I> run(ProcessId, const ListOp& op) {
    return reply_of([&]() -> m::Reply<I> {
      switch (op.kind) {
        case L::kAppend:
          list.append(op.value);
          return {};
        case L::kGet:
          return m::ok(list.get(op.index));
        case L::kSet:
          list.set(op.index, op.value);
          return {};
        case L::kLen:
          return m::ok(static_cast<I>(list.size()));
      }
      return {m::Status::kValueError};
    });
  }
};

struct NamespaceSut {
  std::shared_ptr<mp::SyncManager> manager;
  mp::NamespaceProxy ns;

  static NamespaceSut make() {
    NamespaceSut sut;
    sut.manager = start_manager();
    sut.ns = sut.manager->Namespace();
    return sut;
  }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(ns);
  }
  m::Reply<I> run(ProcessId, const NsOp& op) {
    const std::string name = "a" + std::to_string(op.name);
    return reply_of([&]() -> m::Reply<I> {
      switch (op.kind) {
        case N::kGetattr:
          return m::ok(ns.get<I>(name));
        case N::kSetattr:
          ns.set(name, op.value);
          return {};
        case N::kDelattr:
          ns.erase(name);
          return {};
      }
      return {m::Status::kValueError};
    });
  }
};

// A few keys, so that processes meet on them; values small but varied.
rc::Gen<DictOp> gen_dict_op() {
  return rc::gen::apply(
      [](D kind, I key, I value) {
        return DictOp{kind, key, value};
      },
      rc::gen::element(D::kGet, D::kSet, D::kDel, D::kContains, D::kLen, D::kAdd),
      rc::gen::inRange<I>(0, 3), rc::gen::inRange<I>(1, 100));
}

rc::Gen<ListOp> gen_list_op() {
  return rc::gen::apply(
      [](L kind, I index, I value) {
        return ListOp{kind, index, value};
      },
      rc::gen::element(L::kAppend, L::kAppend, L::kGet, L::kSet, L::kLen),
      rc::gen::inRange<I>(-3, 4), rc::gen::inRange<I>(1, 100));
}

rc::Gen<NsOp> gen_namespace_op() {
  return rc::gen::apply(
      [](N kind, int name, I value) {
        return NsOp{kind, name, value};
      },
      rc::gen::element(N::kGetattr, N::kSetattr, N::kDelattr), rc::gen::inRange(0, 3),
      rc::gen::inRange<I>(1, 100));
}

RC_GTEST_PROP(ManagerProps, SequentialModelAgreesWithDictProxy, ()) {
  rc_check_sequential(
      m::Dict<I, I>(), [] { return DictSut::make(); }, gen_dict_op());
}

RC_GTEST_PROP(ManagerProps, SequentialModelAgreesWithListProxy, ()) {
  rc_check_sequential(
      m::List<I>(), [] { return ListSut::make(); }, gen_list_op());
}

RC_GTEST_PROP(ManagerProps, SequentialModelAgreesWithNamespaceProxy, ()) {
  rc_check_sequential(
      m::Namespace(), [] { return NamespaceSut::make(); }, gen_namespace_op());
}

RC_GTEST_PROP(ManagerProps, DictIsLinearizable, ()) {
  const auto program = *gen_program(single(gen_dict_op()));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ManagerProps.DictIsLinearizable", m::Dict<I, I>(), [] { return DictSut::make(); }, program,
      options);
}

RC_GTEST_PROP(ManagerProps, ListIsLinearizable, ()) {
  const auto program = *gen_program(single(gen_list_op()));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ManagerProps.ListIsLinearizable", m::List<I>(), [] { return ListSut::make(); }, program,
      options);
}

RC_GTEST_PROP(ManagerProps, NamespaceIsLinearizable, ()) {
  const auto program = *gen_program(single(gen_namespace_op()));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ManagerProps.NamespaceIsLinearizable", m::Namespace(), [] { return NamespaceSut::make(); },
      program, options);
}

// Where a client can die with a request in flight: before and after it is sent, and the
// harness's own points between and around operations.
const std::vector<std::string> kClientKillPoints = {
    "manager.call.before_send", "manager.call.after_send", "proptest.op.gap",
    "proptest.op.before",       "proptest.op.after",       ""};

// The suffix reads every key and the size: whatever the dead client's last call did, it
// did whole or not at all, and what the others completed is all there.
Program<DictOp> with_reads(Program<DictOp> program) {
  for (I key = 0; key < 3; ++key) program.suffix.push_back({D::kGet, key});
  program.suffix.push_back({D::kLen});
  return program;
}

RC_GTEST_PROP(ManagerProps, DictSurvivesAKilledClient, ()) {
  const auto program = with_reads(*gen_program(single(gen_dict_op())));
  const auto options = *gen_run_options(
      {StartMode::kFork, StartMode::kSpawn, StartMode::kForkserver}, kClientKillPoints,
      /*kill_percent=*/100);
  rc_check_program(
      "ManagerProps.DictSurvivesAKilledClient", m::Dict<I, I>(), [] { return DictSut::make(); },
      program, options);
}

// The server's death as an operation: `kill(server)` sends SIGKILL and returns once the
// server has exited (a pidfd of a process that is not our child becomes readable then).
using Served = m::Served<m::Dict<I, I>>;
using ServedOp = Served::Op;

void kill_and_await(pid_t pid) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
  if (::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0) {
    const int error = errno;
    ::close(pidfd);
    throw std::system_error(error, std::generic_category(), "pidfd_send_signal");
  }
  pollfd exited{pidfd, POLLIN, 0};
  while (::poll(&exited, 1, -1) < 0 && errno == EINTR) {
  }
  ::close(pidfd);
}

struct ServedDictSut {
  DictSut inner;
  int server_pid = 0;

  static ServedDictSut make() {
    ServedDictSut sut{DictSut::make()};
    sut.server_pid = sut.inner.manager->process()->pid();
    return sut;
  }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(inner, server_pid);
  }
  m::Reply<I> run(ProcessId p, const ServedOp& op) {
    if (!op.kill_server) return inner.run(p, op.op);
    kill_and_await(server_pid);
    return {};
  }
};

// One branch kills the server somewhere among its operations; the others keep calling, and
// the suffix calls again. Calls that overlap the kill may go either way (one that failed may
// still have been served, its reply lost in the death); every call after it must fail with
// ManagerGone, and none before it may (a hang is the watchdog's failure).
RC_GTEST_PROP(ManagerProps, EveryCallAfterTheServerDiedFailsWithManagerGone, ()) {
  auto served = [](const DictOp& op) { return ServedOp{false, op}; };
  auto program = *gen_program(single(rc::gen::map(gen_dict_op(), served)));
  auto& killer = program.branches.at(*rc::gen::inRange<std::size_t>(0, program.branches.size()));
  const auto at = *rc::gen::inRange<std::size_t>(0, killer.size() + 1);
  killer.insert(killer.begin() + static_cast<std::ptrdiff_t>(at), ServedOp{true});
  program.suffix.push_back(served({D::kGet, 0}));
  program.suffix.push_back(served({D::kSet, 1, 5}));
  const auto options = *gen_run_options(kAllModes);
  rc_check_program(
      "ManagerProps.EveryCallAfterTheServerDiedFailsWithManagerGone", Served(),
      [] { return ServedDictSut::make(); }, program, options);
}

// The harness must catch `d[k] = d[k] + x` done by the client: two requests, so two
// processes adding to one key can both read the old value, and one update is lost.
TEST(ManagerProps, AClientSideIncrementThatLosesUpdatesIsCaught) {
  constexpr ProgramShape kBusy{.min_branches = 3, .max_branches = 4, .max_branch_blocks = 6};
  const auto programs = gen_program(single(rc::gen::map(rc::gen::inRange<I>(1, 100),
                                                        [](I x) {
                                                          return DictOp{D::kAdd, 0, x};
                                                        })),
                                    kBusy);
  for (StartMode mode : {StartMode::kFork, StartMode::kSpawn}) {
    Search search{.cases = 100, .seed = 0xadd};
    search.options.mode = mode;
    const auto report = find_counterexample(
        std::string("ManagerProps.ClientSideIncrement_") + to_string(mode), m::Dict<I, I>(),
        [] { return DictSut::make(/*atomic_add=*/false); }, programs, search);
    ASSERT_TRUE(report) << "the harness missed a lost update through a dict proxy under "
                        << to_string(mode);
    EXPECT_EQ(report->verdict, Verdict::kNotLinearizable) << report->text;
  }
}

}  // namespace
}  // namespace ipcheck::proptest
