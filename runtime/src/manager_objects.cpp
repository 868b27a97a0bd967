// The manager's containers: dict, list, Value, Array and Namespace. They hold the bytes of
// the values the clients sent (mp::serialize's) and compare keys and elements by those bytes.
// Every method is a row of its kind's table; update_with runs a registered function on a
// stored value inside the server, between any other two calls.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "manager_server.h"

namespace mp::detail::manager {
namespace {

std::vector<std::string_view> unpack_arg(const Args& args, std::size_t i) {
  std::vector<std::string_view> out;
  if (!wire::unpack(args.bytes(i), out))
    raise("TypeError", "argument " + std::to_string(i + 1) + " is not a packed list");
  return out;
}

template <class Range>
std::string pack(const Range& elements) {
  std::string out;
  for (const auto& e : elements) wire::pack_into(out, e);
  return out;
}

// update_with's arguments after the selector: the function's name and its extra arguments.
std::string run_update(Call& c, std::size_t at, const std::string* current) {
  std::string_view name = c.args.bytes(at);
  std::string_view extra = c.args.size() > at + 1 ? c.args.bytes(at + 1) : std::string_view();
  std::string_view view = current != nullptr ? std::string_view(*current) : std::string_view();
  return c.server.apply_function(name, current != nullptr ? &view : nullptr, extra);
}

// Python's index rules: negative counts from the end; out of range is an IndexError.
std::size_t position(std::int64_t i, std::size_t size, const char* what) {
  std::int64_t n = static_cast<std::int64_t>(size);
  if (i < 0) i += n;
  if (i < 0 || i >= n) raise("IndexError", std::string(what) + " index out of range");
  return static_cast<std::size_t>(i);
}

// -----------------------------------------------------------------------------
// dict: keys in insertion order, as Python's
// -----------------------------------------------------------------------------

class Dict final : public TableObject<Dict> {
 public:
  static constexpr std::string_view kKind = "dict";

  void getitem(Call& c) {
    c.args.expect(1, "__getitem__");
    const std::string* v = find(c.args.bytes(0));
    if (v == nullptr) raise("KeyError", "the key is not in the dict");
    c.reply({*v});
  }
  // get: the value, or no field at all when the key is missing.
  void get(Call& c) {
    c.args.expect(1, "get");
    const std::string* v = find(c.args.bytes(0));
    if (v == nullptr) {
      c.reply();
    } else {
      c.reply({*v});
    }
  }
  void setitem(Call& c) {
    c.args.expect(2, "__setitem__");
    set(c.args.bytes(0), std::string(c.args.bytes(1)));
    c.reply();
  }
  void delitem(Call& c) {
    c.args.expect(1, "__delitem__");
    if (!erase(c.args.bytes(0))) raise("KeyError", "the key is not in the dict");
    c.reply();
  }
  void contains(Call& c) {
    c.args.expect(1, "__contains__");
    c.reply_bool(find(c.args.bytes(0)) != nullptr);
  }
  void len(Call& c) { c.reply_u64(index_.size()); }
  void keys(Call& c) {
    std::string out;
    for (const auto& s : slots_)
      if (s) wire::pack_into(out, s->first);
    c.reply({out});
  }
  void values(Call& c) {
    std::string out;
    for (const auto& s : slots_)
      if (s) wire::pack_into(out, s->second);
    c.reply({out});
  }
  void items(Call& c) {
    std::string out;
    for (const auto& s : slots_) {
      if (!s) continue;
      wire::pack_into(out, s->first);
      wire::pack_into(out, s->second);
    }
    c.reply({out});
  }
  // pop(key) or pop(key, default)
  void pop(Call& c) {
    std::string_view key = c.args.bytes(0);
    const std::string* v = find(key);
    if (v == nullptr) {
      if (c.args.size() < 2) raise("KeyError", "the key is not in the dict");
      c.reply({c.args.bytes(1)});
      return;
    }
    std::string value = *v;
    erase(key);
    c.reply({value});
  }
  void popitem(Call& c) {
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
      if (!*it) continue;
      auto [k, v] = std::move(**it);
      erase(k);
      c.reply({k, v});
      return;
    }
    raise("KeyError", "popitem(): dictionary is empty");
  }
  void setdefault(Call& c) {
    c.args.expect(2, "setdefault");
    std::string_view key = c.args.bytes(0);
    if (const std::string* v = find(key)) {
      c.reply({*v});
      return;
    }
    set(key, std::string(c.args.bytes(1)));
    c.reply({c.args.bytes(1)});
  }
  // update(packed key, value, key, value...)
  void update(Call& c) {
    c.args.expect(1, "update");
    auto elements = unpack_arg(c.args, 0);
    if (elements.size() % 2 != 0) raise("TypeError", "update: an odd number of keys and values");
    for (std::size_t i = 0; i < elements.size(); i += 2)
      set(elements[i], std::string(elements[i + 1]));
    c.reply();
  }
  void clear(Call& c) {
    slots_.clear();
    index_.clear();
    c.reply();
  }
  // update_with(key, function, extra): the new value; a missing key starts from a default.
  void update_with(Call& c) {
    std::string_view key = c.args.bytes(0);
    const std::string* v = find(key);
    std::string updated = run_update(c, 1, v);
    set(key, updated);
    c.reply({updated});
  }

  static constexpr Method<Dict> kMethods[] = {
      {"__getitem__", &Dict::getitem},
      {"get", &Dict::get},
      {"__setitem__", &Dict::setitem},
      {"__delitem__", &Dict::delitem},
      {"__contains__", &Dict::contains},
      {"__len__", &Dict::len},
      {"keys", &Dict::keys},
      {"values", &Dict::values},
      {"items", &Dict::items},
      {"pop", &Dict::pop},
      {"popitem", &Dict::popitem},
      {"setdefault", &Dict::setdefault},
      {"update", &Dict::update},
      {"clear", &Dict::clear},
      {"update_with", &Dict::update_with},
  };

 private:
  const std::string* find(std::string_view key) const {
    auto it = index_.find(std::string(key));
    return it == index_.end() ? nullptr : &slots_[it->second]->second;
  }
  void set(std::string_view key, std::string value) {
    auto [it, inserted] = index_.try_emplace(std::string(key), slots_.size());
    if (inserted) {
      slots_.emplace_back(std::in_place, std::string(key), std::move(value));
    } else {
      slots_[it->second]->second = std::move(value);
    }
  }
  bool erase(std::string_view key) {
    auto it = index_.find(std::string(key));
    if (it == index_.end()) return false;
    slots_[it->second].reset();
    index_.erase(it);
    if (slots_.size() > 32 && index_.size() < slots_.size() / 2) compact();
    return true;
  }
  void compact() {
    std::vector<std::optional<std::pair<std::string, std::string>>> live;
    live.reserve(index_.size());
    for (auto& s : slots_)
      if (s) {
        index_[s->first] = live.size();
        live.push_back(std::move(s));
      }
    slots_ = std::move(live);
  }

  std::vector<std::optional<std::pair<std::string, std::string>>> slots_;
  std::unordered_map<std::string, std::size_t> index_;
};

// -----------------------------------------------------------------------------
// list, Array: a sequence of values (an Array's length is fixed)
// -----------------------------------------------------------------------------

template <class Self, bool kResizable>
class Sequence : public TableObject<Self> {
 public:
  void getitem(Call& c) {
    c.args.expect(1, "__getitem__");
    c.reply({items_[position(c.args.i64(0), items_.size(), Self::kKind.data())]});
  }
  void setitem(Call& c) {
    c.args.expect(2, "__setitem__");
    items_[position(c.args.i64(0), items_.size(), Self::kKind.data())] = c.args.bytes(1);
    c.reply();
  }
  void len(Call& c) { c.reply_u64(items_.size()); }
  void all(Call& c) { c.reply({pack(items_)}); }
  void contains(Call& c) {
    c.args.expect(1, "__contains__");
    c.reply_bool(std::find(items_.begin(), items_.end(), c.args.bytes(0)) != items_.end());
  }
  void index(Call& c) {
    auto it = std::find(items_.begin(), items_.end(), c.args.bytes(0));
    if (it == items_.end()) raise("ValueError", "the value is not in the list");
    c.reply_u64(static_cast<std::uint64_t>(it - items_.begin()));
  }
  void count(Call& c) {
    c.reply_u64(
        static_cast<std::uint64_t>(std::count(items_.begin(), items_.end(), c.args.bytes(0))));
  }
  // update_with(index, function, extra): the new value.
  void update_with(Call& c) {
    std::size_t i = position(c.args.i64(0), items_.size(), Self::kKind.data());
    items_[i] = run_update(c, 1, &items_[i]);
    c.reply({items_[i]});
  }

 protected:
  std::vector<std::string> items_;
};

class List final : public Sequence<List, true> {
 public:
  static constexpr std::string_view kKind = "list";

  void append(Call& c) {
    c.args.expect(1, "append");
    items_.emplace_back(c.args.bytes(0));
    c.reply();
  }
  void extend(Call& c) {
    for (std::string_view e : unpack_arg(c.args, 0)) items_.emplace_back(e);
    c.reply();
  }
  void insert(Call& c) {  // Python clamps the position
    c.args.expect(2, "insert");
    std::int64_t n = static_cast<std::int64_t>(items_.size());
    std::int64_t i = c.args.i64(0);
    if (i < 0) i = std::max<std::int64_t>(0, i + n);
    i = std::min(i, n);
    items_.insert(items_.begin() + i, std::string(c.args.bytes(1)));
    c.reply();
  }
  // pop() or pop(index)
  void pop(Call& c) {
    if (items_.empty()) raise("IndexError", "pop from empty list");
    std::size_t i =
        c.args.size() > 0 ? position(c.args.i64(0), items_.size(), "pop") : items_.size() - 1;
    std::string v = std::move(items_[i]);
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    c.reply({v});
  }
  void delitem(Call& c) {
    std::size_t i = position(c.args.i64(0), items_.size(), "list assignment");
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    c.reply();
  }
  void remove(Call& c) {
    auto it = std::find(items_.begin(), items_.end(), c.args.bytes(0));
    if (it == items_.end()) raise("ValueError", "list.remove(x): x not in list");
    items_.erase(it);
    c.reply();
  }
  void reverse(Call& c) {
    std::reverse(items_.begin(), items_.end());
    c.reply();
  }
  void clear(Call& c) {
    items_.clear();
    c.reply();
  }

  static constexpr Method<List> kMethods[] = {
      {"__getitem__", &List::getitem},   {"__setitem__", &List::setitem},
      {"__delitem__", &List::delitem},   {"__len__", &List::len},
      {"__contains__", &List::contains}, {"all", &List::all},
      {"append", &List::append},         {"extend", &List::extend},
      {"insert", &List::insert},         {"pop", &List::pop},
      {"remove", &List::remove},         {"index", &List::index},
      {"count", &List::count},           {"reverse", &List::reverse},
      {"clear", &List::clear},           {"update_with", &List::update_with},
  };

  static std::unique_ptr<Object> make(Server&, const Args& args) {
    auto list = std::make_unique<List>();
    if (args.size() > 0)
      for (std::string_view e : unpack_arg(args, 0)) list->items_.emplace_back(e);
    return list;
  }
};

class Array final : public Sequence<Array, false> {
 public:
  static constexpr std::string_view kKind = "Array";

  static constexpr Method<Array> kMethods[] = {
      {"__getitem__", &Array::getitem},   {"__setitem__", &Array::setitem},
      {"__len__", &Array::len},           {"all", &Array::all},
      {"__contains__", &Array::contains}, {"index", &Array::index},
      {"count", &Array::count},           {"update_with", &Array::update_with},
  };

  static std::unique_ptr<Object> make(Server&, const Args& args) {
    args.expect(1, "Array");
    auto array = std::make_unique<Array>();
    for (std::string_view e : unpack_arg(args, 0)) array->items_.emplace_back(e);
    return array;
  }
};

// -----------------------------------------------------------------------------
// Value: one value
// -----------------------------------------------------------------------------

class Value final : public TableObject<Value> {
 public:
  static constexpr std::string_view kKind = "Value";

  void get(Call& c) { c.reply({value_}); }
  void set(Call& c) {
    c.args.expect(1, "set");
    value_ = c.args.bytes(0);
    c.reply();
  }
  // update_with(function, extra): the new value.
  void update_with(Call& c) {
    value_ = run_update(c, 0, &value_);
    c.reply({value_});
  }

  static constexpr Method<Value> kMethods[] = {
      {"get", &Value::get}, {"set", &Value::set}, {"update_with", &Value::update_with}};

  static std::unique_ptr<Object> make(Server&, const Args& args) {
    args.expect(1, "Value");
    auto v = std::make_unique<Value>();
    v->value_ = args.bytes(0);
    return v;
  }

 private:
  std::string value_;
};

// -----------------------------------------------------------------------------
// Namespace: named fields
// -----------------------------------------------------------------------------

class Namespace final : public TableObject<Namespace> {
 public:
  static constexpr std::string_view kKind = "Namespace";

  void getattr(Call& c) {
    c.args.expect(1, "__getattr__");
    auto it = fields_.find(std::string(c.args.bytes(0)));
    if (it == fields_.end())
      raise("AttributeError",
            "'Namespace' object has no attribute '" + std::string(c.args.bytes(0)) + "'");
    c.reply({it->second});
  }
  void setattr(Call& c) {
    c.args.expect(2, "__setattr__");
    fields_[std::string(c.args.bytes(0))] = c.args.bytes(1);
    c.reply();
  }
  void delattr(Call& c) {
    c.args.expect(1, "__delattr__");
    if (fields_.erase(std::string(c.args.bytes(0))) == 0)
      raise("AttributeError",
            "'Namespace' object has no attribute '" + std::string(c.args.bytes(0)) + "'");
    c.reply();
  }
  void hasattr(Call& c) {
    c.args.expect(1, "hasattr");
    c.reply_bool(fields_.count(std::string(c.args.bytes(0))) != 0);
  }
  void names(Call& c) {
    std::string out;
    for (const auto& [k, v] : fields_) wire::pack_into(out, k);
    c.reply({out});
  }
  void update_with(Call& c) {
    std::string name(c.args.bytes(0));
    auto it = fields_.find(name);
    std::string updated = run_update(c, 1, it == fields_.end() ? nullptr : &it->second);
    fields_[name] = updated;
    c.reply({updated});
  }

  static constexpr Method<Namespace> kMethods[] = {
      {"__getattr__", &Namespace::getattr}, {"__setattr__", &Namespace::setattr},
      {"__delattr__", &Namespace::delattr}, {"hasattr", &Namespace::hasattr},
      {"names", &Namespace::names},         {"update_with", &Namespace::update_with},
  };

 private:
  std::map<std::string, std::string> fields_;
};

template <class T>
std::unique_ptr<Object> make_default(Server&, const Args&) {
  return std::make_unique<T>();
}

}  // namespace

const std::vector<Kind>& container_kinds() {
  static const std::vector<Kind> kinds = {
      {"dict", &make_default<Dict>},
      {"list", &List::make},
      {"Array", &Array::make},
      {"Value", &Value::make},
      {"Namespace", &make_default<Namespace>},
  };
  return kinds;
}

}  // namespace mp::detail::manager
