// A manager across hosts: the server in one network namespace, a client in another, joined
// by a veth pair (10.213.7.1 and 10.213.7.2, addresses of this project's own, which exist
// only inside the two namespaces), as two machines on one network would be. They share a dict
// and a Queue over TCP with an authkey, and a client with the wrong key is refused across
// the link. Where namespaces cannot be made (not root, no CAP_NET_ADMIN, no `ip` from
// iproute2), the same test runs over loopback TCP and says so on stdout; every assertion
// still runs. ManagerAcrossHosts.OverLoopbackTcp runs that fallback always.
//
// The namespaces are named with the test's pid (tests run in parallel) and their names are
// removed as soon as both processes are inside: from then on each namespace, and the veth
// pair with it, lives only as long as its processes, so not even a crash of this test leaves
// one behind. Until then, the fixture's destructor removes whatever it made.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "mp/connection.h"
#include "mp/errors.h"
#include "mp/managers.h"
#include "mp/process.h"

namespace mp {
namespace {

const std::string kKey = "across-hosts-key";
constexpr double kStepTimeout = 20;  // seconds for any one step of a child

// Runs a command line, returns its exit status and what it printed.
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, p) != nullptr) output += buffer;
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The network namespace a process is in, as the kernel names it ("net:[4026531840]").
std::string netns_of(pid_t pid) {
  char link[128] = {};
  std::string path = "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/ns/net";
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  return n > 0 ? std::string(link, static_cast<std::size_t>(n)) : "?";
}

// Where the server listens and the client connects, and how each process gets there.
class Hosts {
 public:
  // Two namespaces and a veth pair if `want_namespaces` and the machine allows it;
  // loopback otherwise, with the reason.
  explicit Hosts(bool want_namespaces) {
    if (!want_namespaces) {
      fallback_reason_ = "loopback asked for";
      return;
    }
    if (run("command -v ip").first != 0) {
      fallback_reason_ = "no `ip` (Debian iproute2)";
      return;
    }
    std::string pid = std::to_string(::getpid());
    server_ns_ = "ipcheck-srv-" + pid;
    client_ns_ = "ipcheck-cli-" + pid;
    server_veth_ = "ipcks" + pid;  // interface names: 15 characters at most
    client_veth_ = "ipckc" + pid;
    const std::vector<std::string> steps = {
        "ip netns add " + server_ns_,
        "ip netns add " + client_ns_,
        "ip link add " + server_veth_ + " type veth peer name " + client_veth_,
        "ip link set " + server_veth_ + " netns " + server_ns_,
        "ip link set " + client_veth_ + " netns " + client_ns_,
        "ip -n " + server_ns_ + " addr add 10.213.7.1/24 dev " + server_veth_,
        "ip -n " + client_ns_ + " addr add 10.213.7.2/24 dev " + client_veth_,
        "ip -n " + server_ns_ + " link set lo up",
        "ip -n " + client_ns_ + " link set lo up",
        "ip -n " + server_ns_ + " link set " + server_veth_ + " up",
        "ip -n " + client_ns_ + " link set " + client_veth_ + " up",
    };
    for (const std::string& step : steps) {
      auto [status, output] = run(step);
      if (status != 0) {
        fallback_reason_ = "`" + step + "` failed: " + output;
        while (!fallback_reason_.empty() && fallback_reason_.back() == '\n')
          fallback_reason_.pop_back();
        remove_names();
        return;
      }
    }
    namespaces_ = true;
  }
  ~Hosts() { remove_names(); }
  Hosts(const Hosts&) = delete;
  Hosts& operator=(const Hosts&) = delete;

  [[nodiscard]] bool namespaces() const { return namespaces_; }
  [[nodiscard]] const std::string& fallback_reason() const { return fallback_reason_; }
  [[nodiscard]] std::string server_host() const { return namespaces_ ? "10.213.7.1" : "127.0.0.1"; }
  [[nodiscard]] std::string describe() const {
    if (!namespaces_)
      return "[loopback] server and client on 127.0.0.1 (network namespaces not used: " +
             fallback_reason_ + ")";
    return "[netns] server in network namespace " + server_ns_ + " (10.213.7.1), client in " +
           client_ns_ + " (10.213.7.2), over veth " + server_veth_ + "/" + client_veth_;
  }

  // In a child: moves this process into the server's or the client's namespace.
  // Errors: std::system_error naming the call.
  void enter(bool server) const {
    if (!namespaces_) return;
    std::string path = "/var/run/netns/" + (server ? server_ns_ : client_ns_);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
    if (::setns(fd, CLONE_NEWNET) != 0) {
      int e = errno;
      ::close(fd);
      throw std::system_error(e, std::generic_category(), "setns");
    }
    ::close(fd);
  }

  // Once every process is inside: the names go, the namespaces stay while their processes
  // live (and the veth pair while both do).
  void remove_names() {
    if (!server_ns_.empty()) {
      (void)run("ip netns del " + server_ns_);
      (void)run("ip netns del " + client_ns_);
      (void)run("ip link del " + server_veth_);  // if it was never moved into a namespace
      server_ns_.clear();
    }
  }

 private:
  bool namespaces_ = false;
  std::string fallback_reason_;
  std::string server_ns_, client_ns_, server_veth_, client_veth_;
};

// A forked child running `body` with a pipe end to the parent, in a process group of its
// own: killed with everything it started (the manager's server) if still running when the
// guard goes (a failed assertion in the parent).
class Child {
 public:
  template <class F>
  explicit Child(F body) {
    auto [mine, theirs] = Pipe();
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      mine.close();
      int code = 0;
      try {
        body(theirs);
      } catch (const std::exception& e) {
        try {
          theirs.send(std::string("error: ") + e.what());
        } catch (...) {
        }
        code = 1;
      }
      ::_exit(code);
    }
    ::setpgid(pid_, pid_);  // as the child does: whichever runs first
    theirs.close();
    conn_ = std::move(mine);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The child's next message; "error: ..." if it failed, "timeout"/"EOF" if it said nothing.
  std::string next() {
    if (!conn_.poll(kStepTimeout))
      return "timeout: the child said nothing for " + std::to_string(kStepTimeout) + " s";
    try {
      return conn_.recv<std::string>();
    } catch (const EOFError&) {
      return "EOF: the child exited";
    }
  }
  void send(const std::string& s) { conn_.send(s); }
  // Its exit status (waits).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  Connection conn_;
};

// Throws with `what` unless `ok`: in a child, the failure reaches the parent as its message.
void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// The server's side: a manager listening on its host's address, a dict and a Queue made by a
// client in the same namespace, their proxies sent to the parent for the other host.
void server_side(const Hosts& hosts, Connection& parent) {
  hosts.enter(true);
  parent.send(netns_of(0));
  ManagerOptions options;
  options.context = get_context("fork");
  SyncManager m(Address(hosts.server_host(), 0), kKey, options);
  m.start();
  auto d = m.dict<std::string, int>();
  auto q = m.Queue<std::string>();
  d.set("from the server's host", 1);
  q.put("hello from the server's host");
  parent.send(std::to_string(m.address().port()));
  parent.send(serialize(d));
  parent.send(serialize(q));
  // The other host's writes, once it is done.
  check(parent.recv<std::string>() == "client done", "the parent says the client is done");
  check(d.get("from the client's host", -1) == 2, "the client's write reached the server");
  check(q.get(true, 5) == "hello from the client's host", "the client's item is in the queue");
  check(d.size() == 2, "the dict has the two keys");
  parent.send(std::string("ok"));
  m.shutdown();
}

// The client's side: the wrong key is refused; the right one connects by address; the
// proxies made on the other host reach its objects.
void client_side(const Hosts& hosts, Connection& parent) {
  hosts.enter(false);
  parent.send(netns_of(0));
  auto port = static_cast<std::uint16_t>(std::stoi(parent.recv<std::string>()));
  auto d = deserialize<DictProxy<std::string, int>>(parent.recv<std::string>());
  auto q = deserialize<QueueProxy<std::string>>(parent.recv<std::string>());
  Address server(hosts.server_host(), port);

  SyncManager wrong(server, std::string("not the key"));
  bool refused = false;
  try {
    wrong.connect();
  } catch (const AuthenticationError&) {
    refused = true;
  }
  check(refused, "a client with the wrong key is refused (AuthenticationError)");

  SyncManager right(server, kKey);
  right.connect();
  auto own = right.dict<int, int>();
  own.set(7, 49);
  check(own[7] == 49, "a dict made from this host holds its value");
  check(right.number_of_objects() == 3, "the server holds the two shared objects and ours");

  check(d.get("from the server's host", -1) == 1, "the server host's write is read here");
  d.set("from the client's host", 2);
  check(q.get(true, 5) == "hello from the server's host", "the server host's item is got here");
  q.put("hello from the client's host");
  parent.send(std::string("ok"));
  // Stays (and keeps its end of the veth pair) until the server's side has checked.
  (void)parent.recv<std::string>();
}

void share_across(bool want_namespaces) {
  Hosts hosts(want_namespaces);
  std::printf("%s\n", hosts.describe().c_str());
  std::fflush(stdout);
  Child server([&](Connection& parent) { server_side(hosts, parent); });
  Child client([&](Connection& parent) { client_side(hosts, parent); });
  std::string server_ns = server.next(), client_ns = client.next();
  ASSERT_EQ(server_ns.rfind("net:[", 0), 0u) << server_ns;
  ASSERT_EQ(client_ns.rfind("net:[", 0), 0u) << client_ns;
  hosts.remove_names();  // both are inside: the namespaces now live as long as they do
  if (hosts.namespaces()) {
    // Really three network stacks: the test's, the server's, the client's.
    EXPECT_NE(server_ns, netns_of(0));
    EXPECT_NE(client_ns, netns_of(0));
    EXPECT_NE(server_ns, client_ns);
  } else {
    EXPECT_EQ(server_ns, netns_of(0));
    EXPECT_EQ(client_ns, netns_of(0));
  }
  std::string port = server.next();
  ASSERT_GT(std::atoi(port.c_str()), 0) << port;
  std::string dict_bytes = server.next(), queue_bytes = server.next();
  client.send(port);
  client.send(dict_bytes);
  client.send(queue_bytes);
  ASSERT_EQ(client.next(), "ok");  // a failure: the guards kill both sides, namespaces go too
  server.send("client done");
  ASSERT_EQ(server.next(), "ok");
  client.send("exit");
  EXPECT_EQ(server.wait(), 0);
  EXPECT_EQ(client.wait(), 0);
}

// The server and the client on two hosts: two network namespaces joined by a veth pair
// (or loopback, said on stdout, where namespaces cannot be made).
TEST(ManagerAcrossHosts, ServerAndClientInSeparateNetworkNamespaces) { share_across(true); }

// The fallback of the test above, run everywhere so that it is known to work.
TEST(ManagerAcrossHosts, OverLoopbackTcp) { share_across(false); }

}  // namespace
}  // namespace mp
