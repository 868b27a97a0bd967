// Minimal declarations mirroring docs/api-contract.md (mp/connection.h).
#pragma once
#include <utility>

namespace mp {

class Connection {
 public:
  template <class T>
  void send(const T& obj);
  template <class T>
  T recv();
  bool poll(double timeout = 0);
  void close();
  int fileno() const;
};

std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace mp
