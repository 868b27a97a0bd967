// mp/models/dict.h — specifications of the manager's shared containers.
//
//   mp::models::Dict<K, V>   a dict served by a manager (DictProxy)
//   mp::models::List<T>      a list served by a manager (ListProxy)
//   mp::models::Namespace    a Namespace's attributes, named by small integers
//
// Each proxy call is one request to the manager, served one at a time: one operation. A
// read-modify-write done in the client (`d[k] = d[k] + 1`) is two operations; `update_with`
// runs in the manager and is one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class DictOpKind : std::uint8_t { kGet, kSet, kDel, kContains, kLen, kAdd };

template <class K, class V>
struct DictOp {
  DictOpKind kind = DictOpKind::kGet;
  K key{};
  V value{};  // set(key, value), add(key, value) = update_with(key, v += value)
  friend bool operator==(const DictOp&, const DictOp&) = default;
};

template <class K, class V>
std::string to_string(const DictOp<K, V>& op) {
  const std::string key = std::to_string(op.key);
  switch (op.kind) {
    case DictOpKind::kGet:
      return "get(" + key + ")";
    case DictOpKind::kSet:
      return "set(" + key + ", " + std::to_string(op.value) + ")";
    case DictOpKind::kDel:
      return "del(" + key + ")";
    case DictOpKind::kContains:
      return "contains(" + key + ")";
    case DictOpKind::kLen:
      return "len()";
    case DictOpKind::kAdd:
      return "add(" + key + ", " + std::to_string(op.value) + ")";
  }
  return "?";
}

// Dict<K, V>
//   get        ok(value); kMissing (KeyError) when absent.
//   set        kOk.
//   del        kOk; kMissing when absent.
//   contains   kOk / kFalse.
//   len        ok(size).
//   add        ok(new value): the value (V{} when absent) plus op.value, in one step.
// Every operation but len touches one key: partition() lets a history be checked per key.
template <class K, class V>
class Dict {
 public:
  using Op = DictOp<K, V>;
  using Result = Reply<V>;

  static std::optional<K> partition(const Op& op) {
    if (op.kind == DictOpKind::kLen) return std::nullopt;
    return op.key;
  }

  bool step(ProcessId, const Op& op, const Result& result) {
    auto it = items_.find(op.key);
    const bool present = it != items_.end();
    switch (op.kind) {
      case DictOpKind::kGet:
        return present ? result == ok(it->second) : result.status == Status::kMissing;
      case DictOpKind::kSet:
        if (result.status != Status::kOk) return false;
        items_[op.key] = op.value;
        return true;
      case DictOpKind::kDel:
        if (!present) return result.status == Status::kMissing;
        if (result.status != Status::kOk) return false;
        items_.erase(it);
        return true;
      case DictOpKind::kContains:
        return result.status == (present ? Status::kOk : Status::kFalse);
      case DictOpKind::kLen:
        return result == ok(static_cast<V>(items_.size()));
      case DictOpKind::kAdd: {
        const V updated = (present ? it->second : V{}) + op.value;
        if (result != ok(updated)) return false;
        items_[op.key] = updated;
        return true;
      }
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId p, const Op& op) const {
    auto it = items_.find(op.key);
    const V current = it != items_.end() ? it->second : V{};
    return {{Status::kOk}, {Status::kFalse},          {Status::kMissing},
            ok(current),   ok<V>(current + op.value), ok(static_cast<V>(items_.size()))};
  }

  const std::map<K, V>& items() const { return items_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    for (const auto& [key, value] : items_) {
      hash_combine(seed, key);
      hash_combine(seed, value);
    }
    return seed;
  }
  friend bool operator==(const Dict&, const Dict&) = default;

 private:
  std::map<K, V> items_;
};

enum class ListOpKind : std::uint8_t { kAppend, kGet, kSet, kLen };

template <class T>
struct ListOp {
  ListOpKind kind = ListOpKind::kAppend;
  std::int64_t index = 0;
  T value{};
  friend bool operator==(const ListOp&, const ListOp&) = default;
};

template <class T>
std::string to_string(const ListOp<T>& op) {
  switch (op.kind) {
    case ListOpKind::kAppend:
      return "append(" + std::to_string(op.value) + ")";
    case ListOpKind::kGet:
      return "get(" + std::to_string(op.index) + ")";
    case ListOpKind::kSet:
      return "set(" + std::to_string(op.index) + ", " + std::to_string(op.value) + ")";
    case ListOpKind::kLen:
      return "len()";
  }
  return "?";
}

// List<T>
//   append   kOk.
//   get      ok(item); kMissing (IndexError) out of range (negative indexes count from the
//            end, as in Python).
//   set      kOk; kMissing out of range.
//   len      ok(size).
template <class T>
class List {
 public:
  using Op = ListOp<T>;
  using Result = Reply<T>;

  bool step(ProcessId, const Op& op, const Result& result) {
    const auto size = static_cast<std::int64_t>(items_.size());
    const std::int64_t index = op.index < 0 ? op.index + size : op.index;
    const bool in_range = index >= 0 && index < size;
    switch (op.kind) {
      case ListOpKind::kAppend:
        if (result.status != Status::kOk) return false;
        items_.push_back(op.value);
        return true;
      case ListOpKind::kGet:
        return in_range ? result == ok(items_[index]) : result.status == Status::kMissing;
      case ListOpKind::kSet:
        if (!in_range) return result.status == Status::kMissing;
        if (result.status != Status::kOk) return false;
        items_[index] = op.value;
        return true;
      case ListOpKind::kLen:
        return result == ok(static_cast<T>(size));
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    std::vector<Result> results = {
        {Status::kOk}, {Status::kMissing}, ok(static_cast<T>(items_.size()))};
    for (const auto& item : items_) results.push_back(ok(item));
    return results;
  }

  const std::vector<T>& items() const { return items_; }
  std::size_t hash() const {
    std::size_t seed = 0;
    hash_range(seed, items_);
    return seed;
  }
  friend bool operator==(const List&, const List&) = default;

 private:
  std::vector<T> items_;
};

enum class NamespaceOpKind : std::uint8_t { kGetattr, kSetattr, kDelattr };

struct NamespaceOp {
  NamespaceOpKind kind = NamespaceOpKind::kGetattr;
  int name = 0;  // attribute names are small integers in tests
  std::int64_t value = 0;
  friend bool operator==(const NamespaceOp&, const NamespaceOp&) = default;
};

inline std::string to_string(const NamespaceOp& op) {
  const std::string name = "a" + std::to_string(op.name);
  switch (op.kind) {
    case NamespaceOpKind::kGetattr:
      return "ns." + name;
    case NamespaceOpKind::kSetattr:
      return "ns." + name + " = " + std::to_string(op.value);
    case NamespaceOpKind::kDelattr:
      return "del ns." + name;
  }
  return "?";
}

// Namespace: attributes read (kMissing = AttributeError), written and deleted one at a
// time; operations on different attributes are independent (partition()).
class Namespace {
 public:
  using Op = NamespaceOp;
  using Result = Reply<>;

  static std::optional<int> partition(const Op& op) { return op.name; }

  bool step(ProcessId p, const Op& op, const Result& result) {
    DictOp<int, std::int64_t> as_dict{DictOpKind::kGet, op.name, op.value};
    if (op.kind == NamespaceOpKind::kSetattr) as_dict.kind = DictOpKind::kSet;
    if (op.kind == NamespaceOpKind::kDelattr) as_dict.kind = DictOpKind::kDel;
    return attributes_.step(p, as_dict, result);
  }

  std::vector<Result> possible_results(ProcessId p, const Op& op) const {
    return attributes_.possible_results(p, {DictOpKind::kGet, op.name, op.value});
  }

  std::size_t hash() const { return attributes_.hash(); }
  friend bool operator==(const Namespace&, const Namespace&) = default;

 private:
  Dict<int, std::int64_t> attributes_;
};

}  // namespace mp::models
