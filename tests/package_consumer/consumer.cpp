#include <mp/detail/segment.h>
#include <mp/process.h>

#include <cstdio>

int main(int argc, char** argv) {
  mp::init(argc, argv);
  auto segment = mp::detail::Segment::create(64, "consumer");
  std::puts(segment->size() >= 64 ? "ok" : "bad size");
  return segment->size() >= 64 ? 0 : 1;
}
