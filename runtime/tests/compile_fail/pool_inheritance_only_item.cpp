// Must not compile: map over items that hold an inheritance-only object (a Connection inside
// a tuple), which Python would reject only at run time.
#include <tuple>
#include <vector>

#include "mp/connection.h"
#include "mp/pool.h"

int send_one(mp::Connection connection, int value) {
  connection.send(value);
  return value;
}

int main() {
  mp::Pool pool(2);
  auto [reader, writer] = mp::Pipe();
  std::vector<std::tuple<mp::Connection, int>> items{{writer, 1}, {writer, 2}};
  return static_cast<int>(pool.starmap(send_one, items).size());
}
