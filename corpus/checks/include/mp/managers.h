// Minimal declarations mirroring docs/api-contract.md (mp/managers.h).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <vector>

namespace mp {

template <class K, class V>
class DictProxy {
 public:
  V get(const K& k) const;
  V operator[](const K& k) const;
  void set(const K& k, const V& v);
  bool contains(const K& k) const;
  std::vector<std::pair<K, V>> items() const;
  void update(const std::map<K, V>& other);
  void update_with(const K& k, std::function<V(V)> fn);
};

template <class T>
class ListProxy {
 public:
  T get(std::size_t i) const;
  T operator[](std::size_t i) const;
  void set(std::size_t i, const T& v);
  void append(const T& v);
};

template <class T>
class ValueProxy {
 public:
  T get() const;
  void set(const T& v);
};

}  // namespace mp
