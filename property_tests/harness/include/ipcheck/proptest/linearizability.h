// ipcheck/proptest/linearizability.h — is a concurrent history explained by a sequential model?
//
//   ipcheck::proptest::Verdict          kLinearizable / kNotLinearizable / kUnknown
//   ipcheck::proptest::CheckOptions     the time budget
//   ipcheck::proptest::CheckResult      the verdict and its evidence
//   ipcheck::proptest::check_linearizable(model, history, options)
//
// A history is linearizable when every operation can be given an instant between its
// invocation and its completion such that, applied one at a time in that order, the model
// allows each operation with the result the process observed. Indeterminate operations may
// take effect (with any result the model allows) or not at all; so may a call whose reply was
// lost (the model's lost_reply: its server died), whose failure is then placed after its
// effect, as the model says it may be (after the death). A process's operations take
// effect in program order. The search is Wing & Gong's, with Lowe's just-in-time
// linearization and memoisation on (operations placed, model state).
//
// The search is exponential in the worst case, so it has a time budget: when the budget runs
// out the answer is kUnknown, which is not a pass. If the model declares `partition(op)`
// (see mp::models::Partitioned) and every operation has a key, the history is checked key by
// key, which is linear in the number of keys instead of exponential.
//
// Example:
//   History<mp::models::Lock> history = ...;
//   CheckResult result = check_linearizable(mp::models::Lock{}, history);
//   if (result.verdict != Verdict::kLinearizable) FAIL() << describe(history, result);
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "ipcheck/proptest/history.h"
#include "mp/models/model.h"

namespace ipcheck::proptest {

enum class Verdict : std::uint8_t {
  kLinearizable,
  kNotLinearizable,
  kUnknown,  // the budget ran out before an answer: never count this as a pass
};

inline const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown (budget exhausted)";
  }
  return "?";
}

struct CheckOptions {
  // Wall-clock time the search may take, over all partitions.
  std::chrono::milliseconds budget{2000};
};

struct CheckResult {
  Verdict verdict = Verdict::kUnknown;
  // kLinearizable: the order in which the operations took effect (indexes into the
  // history; skipped indeterminate operations are absent). Otherwise: the longest order the
  // search could build — a linearizable prefix.
  std::vector<std::size_t> linearization;
  // kNotLinearizable: the operation that had completed while it could not yet be placed
  // after the longest prefix (an index into the history).
  std::optional<std::size_t> stuck;
  // The partition the verdict comes from when the history was split ("" if it was not).
  std::string partition;
  // Search nodes visited: a measure of effort.
  std::uint64_t explored = 0;
};

namespace detail {

template <class M>
class LinearizabilitySearch {
 public:
  using Entry = Operation<typename M::Op, typename M::Result>;

  LinearizabilitySearch(const M& initial, const History<M>& history,
                        const std::vector<std::size_t>& subset,
                        std::chrono::steady_clock::time_point deadline)
      : initial_(initial), history_(history), ops_(subset), deadline_(deadline) {}

  CheckResult run() {
    build();
    CheckResult result;
    const std::size_t n = ops_.size();
    std::vector<std::uint64_t> placed((n + 63) / 64, 0);
    std::vector<bool> effective(n, false);  // placed by taking effect (not skipped)
    M state = initial_;
    std::unordered_set<CacheKey, CacheHash> cache;
    struct Frame {
      int node;                 // the call node placed
      M before;                 // the state before it
      std::size_t alternative;  // which result was used (indeterminate operations)
      int also_skipped = -1;    // a crash also skips its process's pending operation
      bool forced = false;      // an indeterminate operation skipped at its completion
    };
    std::vector<Frame> stack;
    std::size_t real_depth = 0;
    std::size_t best_depth = 0;
    auto set_bit = [&](int op, bool on) {
      if (on) {
        placed[op / 64] |= 1ULL << (op % 64);
      } else {
        placed[op / 64] &= ~(1ULL << (op % 64));
      }
    };
    auto is_placed = [&](int op) { return op >= 0 && (placed[op / 64] >> (op % 64)) & 1; };
    auto record_best = [&] {
      if (real_depth <= best_depth && !result.linearization.empty()) return;
      best_depth = real_depth;
      result.linearization.clear();
      for (const Frame& frame : stack) {
        if (!frame.forced) result.linearization.push_back(ops_[nodes_[frame.node].op]);
      }
      result.stuck.reset();
    };

    int node = nodes_[kHead].next;
    std::size_t start_alternative = 0;
    while (nodes_[kHead].next != kTail) {
      if ((++result.explored & 1023) == 0 && std::chrono::steady_clock::now() > deadline_) {
        result.verdict = Verdict::kUnknown;
        return result;
      }
      const Node& current = nodes_[node];
      const int op = current.op;
      const Entry& entry = history_[ops_[op]];
      if (current.is_call) {
        bool moved = false;
        const int previous = previous_in_process_[op];
        const bool crash = entry.kind == Entry::Kind::kCrash;
        const bool previous_pending_indeterminate =
            previous >= 0 && !is_placed(previous) && history_[ops_[previous]].indeterminate();
        const bool in_order =
            previous < 0 || is_placed(previous) || (crash && previous_pending_indeterminate);
        if (in_order) {
          std::vector<typename M::Result> alternatives;
          if (!crash) {
            if (entry.result) {
              alternatives.push_back(*entry.result);
            } else {
              alternatives = state.possible_results(entry.process, entry.op);
            }
          }
          const std::size_t count = crash ? 1 : alternatives.size();
          for (std::size_t alt = start_alternative; alt < count && !moved; ++alt) {
            M next = state;
            if (crash) {
              if constexpr (mp::models::CrashAware<M>) next.crash(entry.process);
            } else if (!next.step(entry.process, entry.op, alternatives[alt])) {
              continue;
            }
            set_bit(op, true);
            const int skipped = crash && previous_pending_indeterminate ? previous : -1;
            if (skipped >= 0) set_bit(skipped, true);
            if (!cache.insert(CacheKey{placed, next}).second) {
              set_bit(op, false);
              if (skipped >= 0) set_bit(skipped, false);
              continue;
            }
            stack.push_back(Frame{node, state, alt, skipped, false});
            ++real_depth;
            lift(node);
            if (skipped >= 0) lift(call_node_[skipped]);
            state = std::move(next);
            record_best();
            node = nodes_[kHead].next;
            moved = true;
          }
        }
        start_alternative = 0;
        if (!moved) node = current.next;
        continue;
      }
      // A completion: its operation was not placed before it completed.
      if (entry.indeterminate()) {
        // It may never have taken effect: skip it here (undone when backtracking past it).
        set_bit(op, true);
        stack.push_back(Frame{call_node_[op], state, 0, -1, true});
        lift(call_node_[op]);
        node = nodes_[kHead].next;
        continue;
      }
      if (real_depth == best_depth && !result.stuck) result.stuck = ops_[op];
      // Backtrack: undo forced skips, then the last real placement, and try what follows it.
      while (!stack.empty() && stack.back().forced) {
        unlift(stack.back().node);
        set_bit(nodes_[stack.back().node].op, false);
        stack.pop_back();
      }
      if (stack.empty()) {
        result.verdict = Verdict::kNotLinearizable;
        return result;
      }
      Frame frame = std::move(stack.back());
      stack.pop_back();
      --real_depth;
      if (frame.also_skipped >= 0) {
        unlift(call_node_[frame.also_skipped]);
        set_bit(frame.also_skipped, false);
      }
      unlift(frame.node);
      set_bit(nodes_[frame.node].op, false);
      state = std::move(frame.before);
      node = frame.node;
      start_alternative = frame.alternative + 1;
    }
    result.verdict = Verdict::kLinearizable;
    result.linearization.clear();
    for (const Frame& frame : stack) {
      if (!frame.forced) result.linearization.push_back(ops_[nodes_[frame.node].op]);
    }
    result.stuck.reset();
    return result;
  }

 private:
  static constexpr int kHead = 0;
  static constexpr int kTail = 1;

  struct Node {
    int op = -1;
    bool is_call = false;
    int partner = -1;
    int prev = -1;
    int next = -1;
  };

  struct CacheKey {
    std::vector<std::uint64_t> placed;
    M state;
    bool operator==(const CacheKey&) const = default;
  };
  struct CacheHash {
    std::size_t operator()(const CacheKey& key) const {
      std::size_t seed = key.state.hash();
      for (std::uint64_t word : key.placed) mp::models::hash_combine(seed, word);
      return seed;
    }
  };

  void build() {
    const int n = static_cast<int>(ops_.size());
    struct Event {
      std::int64_t time;
      int kind;  // 0: call, 1: completion — calls first at equal times (more concurrency)
      int op;
    };
    std::vector<Event> events;
    events.reserve(2 * n);
    for (int i = 0; i < n; ++i) {
      const Entry& entry = history_[ops_[i]];
      events.push_back({entry.invoked_ns, 0, i});
      events.push_back({std::max(entry.completed_ns, entry.invoked_ns), 1, i});
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      if (a.time != b.time) return a.time < b.time;
      return a.kind != b.kind ? a.kind < b.kind : a.op < b.op;
    });
    nodes_.assign(2, Node{});
    nodes_[kHead].next = kTail;
    nodes_[kTail].prev = kHead;
    call_node_.assign(n, -1);
    std::vector<int> return_node(n, -1);
    int last = kHead;
    for (const Event& event : events) {
      const int index = static_cast<int>(nodes_.size());
      nodes_.push_back(Node{event.op, event.kind == 0, -1, last, kTail});
      nodes_[last].next = index;
      nodes_[kTail].prev = index;
      last = index;
      (event.kind == 0 ? call_node_ : return_node)[event.op] = index;
    }
    for (int i = 0; i < n; ++i) {
      nodes_[call_node_[i]].partner = return_node[i];
      nodes_[return_node[i]].partner = call_node_[i];
    }
    // Program order: by invocation time, ties in history order.
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      const std::int64_t ta = history_[ops_[a]].invoked_ns, tb = history_[ops_[b]].invoked_ns;
      return ta != tb ? ta < tb : a < b;
    });
    previous_in_process_.assign(n, -1);
    std::map<ProcessId, int> last_of;
    for (int i : order) {
      const ProcessId p = history_[ops_[i]].process;
      auto it = last_of.find(p);
      if (it != last_of.end()) previous_in_process_[i] = it->second;
      last_of[p] = i;
    }
  }

  void lift(int call) {
    for (int node : {call, nodes_[call].partner}) {
      nodes_[nodes_[node].prev].next = nodes_[node].next;
      nodes_[nodes_[node].next].prev = nodes_[node].prev;
    }
  }
  void unlift(int call) {
    for (int node : {nodes_[call].partner, call}) {
      nodes_[nodes_[node].prev].next = node;
      nodes_[nodes_[node].next].prev = node;
    }
  }

  const M& initial_;
  const History<M>& history_;
  std::vector<std::size_t> ops_;  // the subset checked, as indexes into history_
  std::chrono::steady_clock::time_point deadline_;
  std::vector<Node> nodes_;
  std::vector<int> call_node_;
  std::vector<int> previous_in_process_;
};

template <class Key>
std::string key_to_string(const Key& key) {
  if constexpr (requires { std::to_string(key); }) {
    return std::to_string(key);
  } else {
    return "?";
  }
}

// A call whose reply was lost (M::lost_reply) becomes two operations of its process, in
// program order, over its interval: its effect, indeterminate (taken with any result, or
// never), then the failure it observed. `origin` maps each operation of the result to the
// one of `history` it comes from.
template <mp::models::LosesReplies M>
History<M> split_lost_replies(const History<M>& history, std::vector<std::size_t>& origin) {
  History<M> split;
  origin.clear();
  for (std::size_t i = 0; i < history.size(); ++i) {
    const auto& entry = history[i];
    if (entry.kind == decltype(entry.kind)::kCall && entry.result && M::lost_reply(*entry.result)) {
      auto effect = entry;
      effect.result.reset();
      split.push_back(effect);  // first at equal times: its completion comes before the failure's
      origin.push_back(i);
    }
    split.push_back(entry);
    origin.push_back(i);
  }
  return split;
}

template <mp::models::Model M>
CheckResult check_whole(const M& initial, const History<M>& history, const CheckOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.budget;
  std::vector<std::size_t> all(history.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  using Entry = Operation<typename M::Op, typename M::Result>;

  if constexpr (mp::models::Partitioned<M>) {
    using Key = typename decltype(M::partition(history[0].op))::value_type;
    std::map<Key, std::vector<std::size_t>> parts;
    std::vector<std::size_t> crashes;
    bool splittable = true;
    for (std::size_t i = 0; i < history.size() && splittable; ++i) {
      if (history[i].kind == Entry::Kind::kCrash) {
        crashes.push_back(i);
      } else if (auto key = M::partition(history[i].op)) {
        parts[*key].push_back(i);
      } else {
        splittable = false;
      }
    }
    if (splittable && parts.size() > 1) {
      CheckResult combined;
      combined.verdict = Verdict::kLinearizable;
      for (auto& [key, subset] : parts) {
        subset.insert(subset.end(), crashes.begin(), crashes.end());
        std::sort(subset.begin(), subset.end());
        CheckResult part = LinearizabilitySearch<M>(initial, history, subset, deadline).run();
        combined.explored += part.explored;
        if (part.verdict == Verdict::kLinearizable) {
          combined.linearization.insert(combined.linearization.end(), part.linearization.begin(),
                                        part.linearization.end());
          continue;
        }
        part.partition = key_to_string(key);
        part.explored = combined.explored;
        if (part.verdict == Verdict::kNotLinearizable) return part;
        combined = part;  // unknown: keep looking for a definite failure
      }
      return combined;
    }
  }
  return LinearizabilitySearch<M>(initial, history, all, deadline).run();
}

}  // namespace detail

// Checks `history` against the sequential model `initial` (its state before the first
// operation). Does not block; takes at most about `options.budget`.
template <mp::models::Model M>
CheckResult check_linearizable(const M& initial, const History<M>& history,
                               const CheckOptions& options = {}) {
  if constexpr (mp::models::LosesReplies<M>) {
    std::vector<std::size_t> origin;
    const History<M> split = detail::split_lost_replies<M>(history, origin);
    if (split.size() != history.size()) {
      CheckResult result = detail::check_whole(initial, split, options);
      // Back to the history's indexes; a split call stands where its first part was placed.
      std::vector<bool> listed(history.size(), false);
      std::vector<std::size_t> linearization;
      for (std::size_t i : result.linearization) {
        if (!listed[origin[i]]) linearization.push_back(origin[i]);
        listed[origin[i]] = true;
      }
      result.linearization = std::move(linearization);
      if (result.stuck) result.stuck = origin[*result.stuck];
      return result;
    }
  }
  return detail::check_whole(initial, history, options);
}

}  // namespace ipcheck::proptest
