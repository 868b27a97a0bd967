// The locks the lock-order facts tests share across translation units: two globals and a
// class member (every Registry's mu is one lock class, Registry::mu).
#pragma once
#include <mutex>

extern std::mutex a_mu;
extern std::mutex b_mu;

struct Registry {
  std::mutex mu;
  int entries = 0;
  void refresh();
  void add();
};

extern Registry registry;
