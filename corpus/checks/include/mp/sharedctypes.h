// Minimal declarations mirroring docs/api-contract.md (mp/sharedctypes.h).
#pragma once
#include <cstddef>
#include "mp/synchronize.h"

namespace mp {

struct NoLock {};
inline constexpr NoLock no_lock{};

/// A reference proxy: converts to T by a locked read, `=` is a locked write, `+=`/`++` are a
/// locked read then a locked write (not atomic, as in Python).
template <class T>
class SharedRef {
 public:
  operator T() const;
  SharedRef& operator=(const T& v);
  SharedRef& operator+=(const T& v);
  SharedRef& operator-=(const T& v);
  SharedRef& operator*=(const T& v);
  SharedRef& operator++();
  T operator++(int);
  SharedRef& operator--();
  T operator--(int);
};

template <class T>
class Value {
 public:
  explicit Value(T v = T());
  Value(T v, NoLock);
  T get() const;
  void set(T v);
  SharedRef<T> value();
  RLock& get_lock();
};

template <class T>
class Array {
 public:
  explicit Array(std::size_t n);
  SharedRef<T> operator[](std::size_t i);
  T get(std::size_t i) const;
  void set(std::size_t i, T v);
  std::size_t size() const;
  RLock& get_lock();
};

template <class T>
class RawValue {
 public:
  explicit RawValue(T v = T());
  T get() const;
  void set(T v);
  T& value();
};

template <class T>
class RawArray {
 public:
  explicit RawArray(std::size_t n);
  T& operator[](std::size_t i);
  T get(std::size_t i) const;
  void set(std::size_t i, T v);
  std::size_t size() const;
};

}  // namespace mp
