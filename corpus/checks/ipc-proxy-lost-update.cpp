// Corpus for ipc-proxy-lost-update: a value fetched by copy from a manager proxy is changed and
// not written back through the proxy on some path before it dies. bad* functions must warn, ok*
// must not. Fetch and write-back are made under a lock where both happen (otherwise they are a
// non-atomic update, which ipc-nonatomic-update reports).
// RUN: clang++-19 -std=c++20 -fsyntax-only -fplugin=ipcheck-plugin.so -Xclang -verify -I include %s

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mp/mp.h"

using Lists = mp::DictProxy<std::string, std::vector<int>>;
using Counters = mp::DictProxy<std::string, std::map<std::string, int>>;

struct Config {
  int port = 0;
  std::vector<std::string> hosts;
};

struct Item {
  int count = 0;
  std::string name;
};

mp::Lock lock;
bool failed();
void log(int);

void append_to(std::vector<int>& v, int x) { v.push_back(x); }
void save(Lists& d, const std::string& k, const std::vector<int>& v) { d.set(k, v); }
int total(const std::vector<int>& v) {
  int s = 0;
  for (int x : v) s += x;
  return s;
}

// --- the direct form: the temporary copy dies at the end of the statement --------------------

void bad1_get_push_back(Lists& d, int x) {
  d.get("k").push_back(x);  // expected-warning{{'push_back' changes a temporary copy fetched from 'd' by 'get': the change is lost [ipc-proxy-lost-update]}} expected-note{{change a local copy and write it back with 'set', or change the value in the manager with 'update_with'}}
}

void bad2_subscript_push_back(Lists& d, int x) {
  d["k"].push_back(x);  // expected-warning{{'push_back' changes a temporary copy fetched from 'd' by 'operator[]': the change is lost [ipc-proxy-lost-update]}} expected-note{{change a local copy and write it back with 'set', or change the value in the manager with 'update_with'}}
}

void bad3_clear(Lists& d) {
  d.get("k").clear();  // expected-warning{{'clear' changes a temporary copy fetched from 'd' by 'get': the change is lost [ipc-proxy-lost-update]}} expected-note{{change a local copy and write it back with 'set', or change the value in the manager with 'update_with'}}
}

void bad4_namespace_field(mp::Namespace& ns) {
  ns.get<Config>("cfg").hosts.push_back("db");  // expected-warning{{'push_back' changes a temporary copy fetched from 'ns' by 'get': the change is lost [ipc-proxy-lost-update]}} expected-note{{change a local copy and write it back with 'set'}}
}

void bad5_items_loop(Lists& d) {
  for (auto& [k, v] : d.items())  // expected-note{{the copy is fetched here and is never written back}}
    v.push_back(0);               // expected-warning{{'push_back' changes an element of a temporary copy fetched from 'd' by 'items': the change is lost [ipc-proxy-lost-update]}}
}

void bad6_range_over_get(Lists& d) {
  for (int& x : d.get("k"))  // expected-note{{the copy is fetched here and is never written back}}
    x *= 2;                  // expected-warning{{'*=' changes an element of a temporary copy fetched from 'd' by 'get': the change is lost [ipc-proxy-lost-update]}}
}

// --- the local-copy form ----------------------------------------------------------------------

void bad7_never_written_back(Lists& d, int x) {
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v.push_back(x);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad8_early_return(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v.push_back(x);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is not written back on every path [ipc-proxy-lost-update]}}
  if (failed())
    return;  // expected-note{{'v' goes out of scope here without being written back}}
  d.set("k", v);
}

void bad9_throw_before_write_back(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v.push_back(x);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is not written back on every path [ipc-proxy-lost-update]}}
  if (v.size() > 100)
    throw std::length_error("full");  // expected-note{{'v' goes out of scope here without being written back}}
  d.set("k", v);
}

void bad10_one_branch(Lists& d, int x, bool commit) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v.push_back(x);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is not written back on every path [ipc-proxy-lost-update]}}
  if (commit)
    d.set("k", v);
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad11_namespace_field(mp::Namespace& ns) {
  auto cfg = ns.get<Config>("cfg");  // expected-note{{'cfg' is fetched from 'ns' here}}
  cfg.port = 8080;                   // expected-warning{{'=' changes 'cfg', a copy fetched from 'ns' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'cfg' goes out of scope here without being written back}}

void bad12_element_assignment(Lists& d) {
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v[0] = 5;             // expected-warning{{'=' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad13_map_subscript(Counters& d) {
  auto m = d.get("stats");  // expected-note{{'m' is fetched from 'd' here}}
  m["hits"] += 1;           // expected-warning{{'operator[]' changes 'm', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'m' goes out of scope here without being written back}}

void bad14_by_reference(Lists& d, int x) {
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  append_to(v, x);      // expected-warning{{'append_to' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad15_list_element(mp::ListProxy<Item>& items) {
  auto item = items.get(0);  // expected-note{{'item' is fetched from 'items' here}}
  item.count++;              // expected-warning{{'++' changes 'item', a copy fetched from 'items' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'item' goes out of scope here without being written back}}

void bad16_value_holding_container(mp::ValueProxy<std::vector<int>>& vp) {
  auto v = vp.get();  // expected-note{{'v' is fetched from 'vp' here}}
  v.push_back(1);     // expected-warning{{'push_back' changes 'v', a copy fetched from 'vp' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad17_loop_over_copy(Lists& d) {
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  for (auto& x : v)
    x *= 2;  // expected-warning{{'*=' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad18_written_back_elsewhere(Lists& d, Lists& other) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  v.push_back(1);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
  other.set("k", v);
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad19_through_pointer(Lists& d) {
  auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
  int* p = v.data();
  p[0] = 1;  // expected-warning{{'=' changes 'v', a copy fetched from 'd' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'v' goes out of scope here without being written back}}

void bad20_break_out_of_loop(Lists& d) {
  mp::LockGuard<mp::Lock> g(lock);
  while (true) {
    auto v = d.get("k");  // expected-note{{'v' is fetched from 'd' here}}
    v.push_back(1);       // expected-warning{{'push_back' changes 'v', a copy fetched from 'd' by 'get', which is not written back on every path [ipc-proxy-lost-update]}}
    if (failed())
      break;  // expected-note{{'v' goes out of scope here without being written back}}
    d.set("k", v);
  }
}

void bad21_string_value(mp::DictProxy<std::string, std::string>& names) {
  auto s = names.get("greeting");  // expected-note{{'s' is fetched from 'names' here}}
  s.append(", world");             // expected-warning{{'append' changes 's', a copy fetched from 'names' by 'get', which is never written back [ipc-proxy-lost-update]}}
}  // expected-note{{'s' goes out of scope here without being written back}}

// --- fine ---------------------------------------------------------------------------------------

void ok1_written_back(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  v.push_back(x);
  d.set("k", v);
}

void ok2_only_read(Lists& d) {
  auto v = d.get("k");
  log(v.size() + v[0] + v.front());
  for (int x : v) log(x);
  for (auto it = v.begin(); it != v.end(); ++it) log(*it);
  log(std::count(v.begin(), v.end(), 3));
}

void ok3_direct_read(Lists& d) {
  log(d.get("k").size());
  log(d["k"].empty());
  for (int x : d.get("k")) log(x);
}

void ok4_update_with(Lists& d, int x) {
  d.update_with("k", [x](std::vector<int> v) {
    v.push_back(x);
    return v;
  });
}

void ok5_both_branches(Lists& d, int x, bool twice) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  v.push_back(x);
  if (twice) {
    v.push_back(x);
    d.set("k", v);
  } else {
    d.set("k", v);
  }
}

void ok6_return_before_change(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  if (v.size() > 100)
    return;
  v.push_back(x);
  d.set("k", v);
}

void ok7_moved_into_what_is_written_back(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  v.push_back(x);
  std::map<std::string, std::vector<int>> batch;
  batch.emplace("k", std::move(v));
  d.update(batch);
}

std::vector<int> ok8_returned(Lists& d, int x) {
  auto v = d.get("k");
  v.push_back(x);
  return v;
}

void ok9_helper_writes_back(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  v.push_back(x);
  save(d, "k", v);
}

void ok10_scalar_copy(mp::ValueProxy<int>& counter) {
  int n = counter.get();
  n += 1;
  log(n);
}

void ok11_const_copy(Lists& d) {
  const auto v = d.get("k");
  log(total(v));
}

void ok12_new_value_written_back(Lists& d) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  std::vector<int> w = v;
  w.push_back(1);
  d.set("k", w);
}

void ok13_namespace_written_back(mp::Namespace& ns) {
  mp::LockGuard<mp::Lock> g(lock);
  auto cfg = ns.get<Config>("cfg");
  cfg.port = 8080;
  ns.set("cfg", cfg);
}

void ok14_list_element_written_back(mp::ListProxy<Item>& items) {
  mp::LockGuard<mp::Lock> g(lock);
  auto item = items.get(0);
  item.count++;
  items.set(0, item);
}

void ok15_loop_then_write_back(Lists& d) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  for (int i = 0; i < 10; ++i)
    v.push_back(i);
  d.set("k", v);
}

void ok16_local_container(int x) {
  std::vector<int> v;
  v.push_back(x);
  log(total(v));
}

void ok17_write_back_in_a_lambda(Lists& d, int x) {
  mp::LockGuard<mp::Lock> g(lock);
  auto v = d.get("k");
  auto commit = [&] { d.set("k", v); };
  v.push_back(x);
  commit();
}

void ok18_refetched_copy_only_read(Lists& d) {
  auto v = d.get("a");
  log(total(v));
  v = d.get("b");
  log(total(v));
}

void ok19_copy_replaced_by_own_value(mp::Namespace& ns) {
  auto cfg = ns.get<Config>("cfg");
  if (cfg.port == 0)
    cfg = Config{};
  log(cfg.port);
}

// --- known false negatives ----------------------------------------------------------------------

void fn1_algorithm_through_iterators(Lists& d) {
  auto v = d.get("k");
  std::sort(v.begin(), v.end());  // FIXME: should warn (iterators passed by value change 'v')
}

struct Holder {
  std::vector<int> data;
};

void fn2_copy_kept_in_a_member(Lists& d, Holder& h) {
  h.data = d.get("k");
  h.data.push_back(1);  // FIXME: should warn (a copy kept outside the function is not followed)
}
