// Minimal declarations mirroring docs/api-contract.md (mp/connection.h, mp/listener.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
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

class Address {
 public:
  Address(const char* unix_address);
  Address(std::string unix_address);
  Address(std::string host, std::uint16_t port);
  static Address arbitrary();
};

inline constexpr std::nullopt_t kNoAuthentication = std::nullopt;

class Listener {
 public:
  explicit Listener(Address address = Address::arbitrary(), int backlog = 1);
  Listener(Address address, int backlog, std::optional<std::string> authkey);
  Connection accept(double timeout = -1);
  void close();
  const Address& address() const;
};

Connection Client(const Address& address);
Connection Client(const Address& address, std::optional<std::string> authkey, double timeout = -1);

}  // namespace mp
