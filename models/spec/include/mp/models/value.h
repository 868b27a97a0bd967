// mp/models/value.h — specifications of mp::Value<T> and mp::Array<T>.
//
//   mp::models::Value<T>   one shared value
//   mp::models::Array<T>   a fixed number of shared values, each independent of the others
//
// `add` is an increment done as one operation (under get_lock(), or atomically). The
// proxy's `+=` without the lock is a get then a set — two operations — and a history where
// two processes interleave them loses an increment: that is the bug the model exposes.
#pragma once

#include <optional>
#include <vector>

#include "mp/models/model.h"

namespace mp::models {

enum class ValueOpKind : std::uint8_t { kGet, kSet, kAdd };

template <class T>
struct ValueOp {
  ValueOpKind kind = ValueOpKind::kGet;
  T value{};              // set(value), add(value)
  std::size_t index = 0;  // Array only
  friend bool operator==(const ValueOp&, const ValueOp&) = default;
};

template <class T>
std::string to_string(const ValueOp<T>& op) {
  switch (op.kind) {
    case ValueOpKind::kGet:
      return "get(" + std::to_string(op.index) + ")";
    case ValueOpKind::kSet:
      return "set(" + std::to_string(op.index) + ", " + std::to_string(op.value) + ")";
    case ValueOpKind::kAdd:
      return "add(" + std::to_string(op.index) + ", " + std::to_string(op.value) + ")";
  }
  return "?";
}

// Value<T>
//   get    ok(value).
//   set    kOk; the value becomes op.value.
//   add    ok(new value): adds op.value in one step.
template <class T>
class Value {
 public:
  using Op = ValueOp<T>;
  using Result = Reply<T>;

  Value() = default;
  explicit Value(T initial) : value_(initial) {}

  bool step(ProcessId, const Op& op, const Result& result) {
    switch (op.kind) {
      case ValueOpKind::kGet:
        return result == ok(value_);
      case ValueOpKind::kSet:
        if (result.status != Status::kOk) return false;
        value_ = op.value;
        return true;
      case ValueOpKind::kAdd:
        if (result != ok<T>(value_ + op.value)) return false;
        value_ = value_ + op.value;
        return true;
    }
    return false;
  }

  std::vector<Result> possible_results(ProcessId, const Op& op) const {
    switch (op.kind) {
      case ValueOpKind::kGet:
        return {ok(value_)};
      case ValueOpKind::kSet:
        return {Result{}};
      case ValueOpKind::kAdd:
        return {ok<T>(value_ + op.value)};
    }
    return {};
  }

  const T& value() const { return value_; }
  std::size_t hash() const { return std::hash<T>{}(value_); }
  friend bool operator==(const Value&, const Value&) = default;

 private:
  T value_{};
};

// Array<T>: a Value<T> per index; operations on different indexes commute, so a history
// can be checked index by index (partition()). An index out of range is kMissing.
template <class T>
class Array {
 public:
  using Op = ValueOp<T>;
  using Result = Reply<T>;

  Array() = default;
  explicit Array(std::size_t size, T initial = T{}) : values_(size, Value<T>(initial)) {}

  static std::optional<std::size_t> partition(const Op& op) { return op.index; }

  bool step(ProcessId p, const Op& op, const Result& result) {
    if (op.index >= values_.size()) return result.status == Status::kMissing;
    return values_[op.index].step(p, op, result);
  }

  std::vector<Result> possible_results(ProcessId p, const Op& op) const {
    if (op.index >= values_.size()) return {{Status::kMissing}};
    return values_[op.index].possible_results(p, op);
  }

  std::size_t size() const { return values_.size(); }
  const T& operator[](std::size_t i) const { return values_[i].value(); }
  std::size_t hash() const {
    std::size_t seed = 0;
    for (const auto& value : values_) hash_combine(seed, value.hash());
    return seed;
  }
  friend bool operator==(const Array&, const Array&) = default;

 private:
  std::vector<Value<T>> values_;
};

}  // namespace mp::models
