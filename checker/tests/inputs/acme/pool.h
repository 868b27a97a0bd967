// A made-up library, known to ipcheck only through inputs/acme.yaml.
#pragma once
namespace acme {
class Mutex {
 public:
  void enter();
  void leave();
};
class Slots {
 public:
  int free_count() const;
  void claim();
};
}  // namespace acme
