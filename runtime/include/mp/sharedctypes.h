// mp/sharedctypes.h — values and arrays in shared memory (Python's multiprocessing.sharedctypes).
//
//   mp::Value<T>      one T with an RLock: every access through it is a locked access
//   mp::Array<T>      n T's with one RLock
//   mp::RawValue<T>   one T, no lock: value() is a plain T&
//   mp::RawArray<T>   n T's, no lock: operator[] is a plain T&
//   mp::SharedRef<T>  what Value::value() and Array::operator[] return: a reference proxy
//   mp::no_lock       tag: Value<T>(v, mp::no_lock) / Array<T>(n, mp::no_lock) are unsynchronized
//
// T must be trivially copyable (no pointers into one process's memory are meaningful in
// another, and the bytes are copied in and out). All are handles: copies name the same
// memory; they reach other processes by inheritance only (fork, spawn, thread).
//
// The classic mistake, as in Python:
//
//   counter.value() += 1;              // a locked read, then a separate locked write:
//                                      // another process may write in between, and an
//                                      // increment is lost (ipcheck flags this)
//   {
//     mp::LockGuard guard(counter.get_lock());
//     counter.value() += 1;            // right: the lock is held across read and write
//   }                                  // (it is an RLock, so the inner locking is fine)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "mp/detail/shared_handle.h"
#include "mp/lock.h"

namespace mp {

// Tag asking for an unsynchronized Value or Array (Python's lock=False).
struct NoLock {
  explicit NoLock() = default;
};
inline constexpr NoLock no_lock{};

namespace detail {
template <class T>
constexpr void check_shareable() {
  static_assert(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>,
                "mp: Value/Array/RawValue/RawArray hold trivially copyable, pointer-free types "
                "only: their bytes live in shared memory mapped by other processes, where a "
                "pointer, a std::string or a std::vector means nothing. Use a fixed-size "
                "struct or std::array, or a Manager proxy (mp/managers.h) for other types");
}

template <class T>
T load_bytes(const T* slot) noexcept {
  T out;
  std::memcpy(static_cast<void*>(&out), slot, sizeof(T));
  return out;
}
template <class T>
void store_bytes(T* slot, const T& value) noexcept {
  std::memcpy(static_cast<void*>(slot), &value, sizeof(T));
}

template <class T>
struct ValueState {
  MutexState mutex;
  T value;
};

struct ArrayHeader {
  MutexState mutex;
  std::uint64_t size = 0;
};
template <class T>
constexpr std::size_t array_data_offset() {
  return (sizeof(ArrayHeader) + alignof(T) - 1) / alignof(T) * alignof(T);
}

// The elements of an Array or RawArray: a header (lock state, size), then n T's, in one
// segment.
template <class T>
class ArrayStorage {
 public:
  ArrayStorage() = default;
  ArrayStorage(std::size_t n, const char* debug_name) {
    auto segment = Segment::create(array_data_offset<T>() + n * sizeof(T), debug_name);
    auto* header = new (segment->data()) ArrayHeader;
    header->size = n;
    header_ = SharedPtr<ArrayHeader>(SegmentRef(std::move(segment)), header);
    if constexpr (std::is_default_constructible_v<T>) {
      for (std::size_t i = 0; i < n; ++i) new (data() + i) T();
    }
  }

  std::size_t size() const noexcept { return static_cast<std::size_t>(header_->size); }
  T* data() const noexcept {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(header_.get()) + array_data_offset<T>());
  }
  SharedPtr<MutexState> mutex() const noexcept { return header_.sibling(&header_->mutex); }
  // `i`, or std::out_of_range (Python's IndexError) naming `what`.
  std::size_t checked(std::size_t i, const char* what) const {
    if (i >= size())
      throw std::out_of_range(std::string(what) + ": index " + std::to_string(i) +
                              " out of range (size " + std::to_string(size()) + ")");
    return i;
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(header_);
  }

 private:
  SharedPtr<ArrayHeader> header_;
};

// The RLock of a synchronized Value or Array, or nothing for an unsynchronized one.
class OptionalLock {
 public:
  void bind(SharedPtr<MutexState> state, bool synchronized) {
    if (synchronized) {
      lock_.emplace(std::move(state));
    } else {
      lock_.reset();
    }
  }
  bool has() const noexcept { return lock_.has_value(); }
  RLock* get_if() const noexcept { return lock_ ? &*lock_ : nullptr; }
  // The lock, or std::logic_error (Python's AttributeError) naming `what`.
  RLock& get(const char* what) const {
    if (!lock_) throw std::logic_error(std::string(what) + ": unsynchronized (no_lock): no lock");
    return *lock_;
  }

 private:
  mutable std::optional<RLock> lock_;
};
}  // namespace detail

// -----------------------------------------------------------------------------
// SharedRef
// -----------------------------------------------------------------------------
//
// A reference to one shared T. Converting it to T is a locked read; `=` is a locked write;
// `+=`, `-=`, `*=`, `/=`, `++`, `--` are a locked read followed by a separate locked write —
// NOT atomic (see the file comment). Each access may block for the lock and may throw
// mp::OwnerDied (mp/lock.h). Without a lock (no_lock), accesses are plain byte copies, and
// concurrent ones race. A SharedRef must not outlive the Value or Array it came from.
template <class T>
class SharedRef {
 public:
  SharedRef(T* slot, RLock* lock) noexcept : slot_(slot), lock_(lock) {}
  SharedRef(const SharedRef&) = default;

  operator T() const { return read(); }  // NOLINT: a proxy converts implicitly, like T&

  SharedRef& operator=(const T& value) {
    write(value);
    return *this;
  }
  // Assigning one proxy to another copies the value, not the reference.
  SharedRef& operator=(const SharedRef& other) { return *this = other.read(); }

  SharedRef& operator+=(const T& v) { return *this = static_cast<T>(read() + v); }
  SharedRef& operator-=(const T& v) { return *this = static_cast<T>(read() - v); }
  SharedRef& operator*=(const T& v) { return *this = static_cast<T>(read() * v); }
  SharedRef& operator/=(const T& v) { return *this = static_cast<T>(read() / v); }
  SharedRef& operator++() { return *this += T(1); }
  SharedRef& operator--() { return *this -= T(1); }
  T operator++(int) {
    T old = read();
    write(static_cast<T>(old + T(1)));
    return old;
  }
  T operator--(int) {
    T old = read();
    write(static_cast<T>(old - T(1)));
    return old;
  }

 private:
  // Under get_lock() (the caller holds the RLock) an access needs no locking of its own:
  // taking and dropping one more level would change nothing but the count, and would write
  // to the lock's cache line twice per access.
  T read() const {
    if (lock_ == nullptr || lock_->is_mine()) return detail::load_bytes(slot_);
    LockGuard guard(*lock_);
    return detail::load_bytes(slot_);
  }
  void write(const T& value) {
    if (lock_ == nullptr || lock_->is_mine()) return detail::store_bytes(slot_, value);
    LockGuard guard(*lock_);
    detail::store_bytes(slot_, value);
  }

  T* slot_;
  RLock* lock_;
};

// -----------------------------------------------------------------------------
// Value
// -----------------------------------------------------------------------------
//
// One T in shared memory with its own RLock (or none, with mp::no_lock).
//
// Visibility: a set() (or a write through value()) is visible to every get() that locks
// after it. Several accesses are one atomic step only while the caller holds get_lock().
template <class T>
class Value {
  static_assert((detail::check_shareable<T>(), true));

 public:
  static constexpr bool kInheritanceOnly = true;

  // A value initialised to `v`, synchronized by a new RLock. Throws std::system_error if
  // memory is refused.
  explicit Value(T v = T()) : Value(v, true) {}
  // An unsynchronized value: no lock, plain copies; concurrent accesses race.
  Value(T v, NoLock) : Value(v, false) {}

  // A locked read (blocks for the lock; may throw mp::OwnerDied).
  [[nodiscard]] T get() const { return value_ref().operator T(); }
  // A locked write (blocks for the lock; may throw mp::OwnerDied).
  void set(const T& v) { value_ref() = v; }
  // A reference proxy (see SharedRef): `v.value() = 3`, `int x = v.value()`.
  [[nodiscard]] SharedRef<T> value() { return value_ref(); }

  // The lock that makes several accesses one step. Invalid on an unsynchronized Value:
  // throws std::logic_error (Python's AttributeError).
  [[nodiscard]] RLock& get_lock() const { return lock_.get("mp::Value"); }
  [[nodiscard]] bool synchronized() const noexcept { return lock_.has(); }

  template <class Archive>
  void save(Archive& archive) const {
    archive(state_, lock_.has());
  }
  template <class Archive>
  void load(Archive& archive) {
    bool synchronized = false;
    archive(state_, synchronized);
    lock_.bind(state_.sibling(&state_->mutex), synchronized);
  }

 private:
  Value(const T& v, bool synchronized) {
    state_ = detail::SharedPtr<detail::ValueState<T>>::make("mp.Value");
    detail::store_bytes(&state_->value, v);
    lock_.bind(state_.sibling(&state_->mutex), synchronized);
  }
  SharedRef<T> value_ref() const { return SharedRef<T>(&state_->value, lock_.get_if()); }

  detail::SharedPtr<detail::ValueState<T>> state_;
  detail::OptionalLock lock_;
};

// -----------------------------------------------------------------------------
// Array
// -----------------------------------------------------------------------------
//
// A fixed number of T's in shared memory with one RLock for all (or none, with no_lock).
// Element accesses are each locked on their own; hold get_lock() to make several one step.
// Visibility as Value.
template <class T>
class Array {
  static_assert((detail::check_shareable<T>(), true));

 public:
  static constexpr bool kInheritanceOnly = true;

  // `n` value-initialised (zero) elements, synchronized. Throws std::system_error if memory
  // is refused.
  explicit Array(std::size_t n) : Array(n, true) {}
  // An empty array (what deserialization starts from).
  Array() : Array(0, true) {}
  Array(std::size_t n, NoLock) : Array(n, false) {}
  // The given elements, synchronized.
  Array(std::initializer_list<T> values) : Array(values.size(), true) {
    std::size_t i = 0;
    for (const T& v : values) detail::store_bytes(storage_.data() + i++, v);
  }

  [[nodiscard]] std::size_t size() const noexcept { return storage_.size(); }

  // A reference proxy to element `i` (see SharedRef). Throws std::out_of_range if
  // i >= size() (Python's IndexError).
  [[nodiscard]] SharedRef<T> operator[](std::size_t i) { return ref(i); }
  // A locked read / write of element `i`. Throws std::out_of_range if i >= size().
  [[nodiscard]] T get(std::size_t i) const { return ref(i).operator T(); }
  void set(std::size_t i, const T& v) { ref(i) = v; }
  // All elements, read under the lock in one step.
  [[nodiscard]] std::vector<T> to_vector() const {
    std::vector<T> out(size());
    auto copy = [&] {
      if (!out.empty())
        std::memcpy(static_cast<void*>(out.data()), storage_.data(), out.size() * sizeof(T));
    };
    if (RLock* lock = lock_.get_if()) {
      LockGuard guard(*lock);
      copy();
    } else {
      copy();
    }
    return out;
  }

  // As Value::get_lock.
  [[nodiscard]] RLock& get_lock() const { return lock_.get("mp::Array"); }
  [[nodiscard]] bool synchronized() const noexcept { return lock_.has(); }

  template <class Archive>
  void save(Archive& archive) const {
    archive(storage_, lock_.has());
  }
  template <class Archive>
  void load(Archive& archive) {
    bool synchronized = false;
    archive(storage_, synchronized);
    lock_.bind(storage_.mutex(), synchronized);
  }

 private:
  Array(std::size_t n, bool synchronized) : storage_(n, "mp.Array") {
    lock_.bind(storage_.mutex(), synchronized);
  }
  SharedRef<T> ref(std::size_t i) const {
    return SharedRef<T>(storage_.data() + storage_.checked(i, "mp::Array"), lock_.get_if());
  }

  detail::ArrayStorage<T> storage_;
  detail::OptionalLock lock_;
};

// -----------------------------------------------------------------------------
// RawValue, RawArray
// -----------------------------------------------------------------------------
//
// Shared T's without a lock: the caller synchronizes (an mp::Lock, a Semaphore...).
// value() and operator[] give a plain T&, valid while a handle to the memory lives.
template <class T>
class RawValue {
  static_assert((detail::check_shareable<T>(), true));

 public:
  static constexpr bool kInheritanceOnly = true;

  explicit RawValue(T v = T()) : state_(detail::SharedPtr<T>::make("mp.RawValue", v)) {}

  [[nodiscard]] T get() const noexcept { return *state_; }
  void set(const T& v) noexcept { *state_ = v; }
  [[nodiscard]] T& value() const noexcept { return *state_; }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(state_);
  }

 private:
  detail::SharedPtr<T> state_;
};

template <class T>
class RawArray {
  static_assert((detail::check_shareable<T>(), true));

 public:
  static constexpr bool kInheritanceOnly = true;

  // An empty array (what deserialization starts from).
  RawArray() : RawArray(0) {}
  // `n` value-initialised (zero) elements.
  explicit RawArray(std::size_t n) : storage_(n, "mp.RawArray") {}

  [[nodiscard]] std::size_t size() const noexcept { return storage_.size(); }
  // Element `i`, unchecked (precondition: i < size()).
  [[nodiscard]] T& operator[](std::size_t i) const noexcept { return storage_.data()[i]; }
  // Checked: std::out_of_range if i >= size().
  [[nodiscard]] T get(std::size_t i) const {
    return storage_.data()[storage_.checked(i, "mp::RawArray")];
  }
  void set(std::size_t i, const T& v) { storage_.data()[storage_.checked(i, "mp::RawArray")] = v; }
  [[nodiscard]] T* data() const noexcept { return storage_.data(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(storage_);
  }

 private:
  detail::ArrayStorage<T> storage_;
};

}  // namespace mp
