// The shared-memory byte rings of a manager connection (byte_lane.h).
#include "byte_lane.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

namespace mp::detail::manager {
namespace {

constexpr std::uint64_t kMagic = 0x6d702e4c616e6531;  // "mp.Lane1"
constexpr std::size_t kHeaderBytes = 4096;

struct LaneHeader {
  std::uint64_t magic = kMagic;
  std::uint64_t capacity = 0;
  LaneRing rings[2];
};
static_assert(sizeof(LaneHeader) <= kHeaderBytes);

bool valid_capacity(std::uint64_t c) {
  return c >= Lane::kMinCapacity && c <= Lane::kMaxCapacity && (c & (c - 1)) == 0;
}

std::size_t lane_bytes(std::uint64_t capacity) { return kHeaderBytes + 2 * capacity; }

[[noreturn]] void throw_errno(const char* call) {
  throw std::system_error(errno, std::generic_category(), call);
}

}  // namespace

// ---- LaneWriter ----

std::int64_t LaneWriter::write_some(const char* bytes, std::size_t n) noexcept {
  std::uint64_t room = capacity_ - (tail_ - head_seen_);
  if (room < n) {
    head_seen_ = ring_->head.load(std::memory_order_acquire);
    if (head_seen_ > tail_ || tail_ - head_seen_ > capacity_) return -1;
    room = capacity_ - (tail_ - head_seen_);
  }
  const std::uint64_t k = std::min<std::uint64_t>(room, n);
  if (k == 0) return 0;
  const std::uint64_t at = tail_ & (capacity_ - 1);
  const std::uint64_t first = std::min(k, capacity_ - at);
  std::memcpy(data_ + at, bytes, first);
  std::memcpy(data_, bytes + first, k - first);
  tail_ += k;
  ring_->tail.store(tail_, std::memory_order_release);
  return static_cast<std::int64_t>(k);
}

bool LaneWriter::drained() noexcept {
  head_seen_ = ring_->head.load(std::memory_order_acquire);
  return head_seen_ == tail_;
}

bool LaneWriter::has_room() noexcept {
  head_seen_ = ring_->head.load(std::memory_order_acquire);
  return tail_ - head_seen_ < capacity_;
}

bool LaneWriter::take_reader_parked() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our tail before their flag
  return ring_->reader_parked.load(std::memory_order_relaxed) != 0 &&
         ring_->reader_parked.exchange(0, std::memory_order_acq_rel) != 0;
}

void LaneWriter::park() noexcept {
  ring_->writer_parked.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our flag before their head
}

void LaneWriter::unpark() noexcept { ring_->writer_parked.store(0, std::memory_order_relaxed); }

// ---- LaneReader ----

std::int64_t LaneReader::available() noexcept {
  tail_seen_ = ring_->tail.load(std::memory_order_acquire);
  if (tail_seen_ < head_ || tail_seen_ - head_ > capacity_) return -1;
  return static_cast<std::int64_t>(tail_seen_ - head_);
}

std::int64_t LaneReader::read_some(char* out, std::size_t n) noexcept {
  if (tail_seen_ == head_) {
    const std::int64_t ready = available();
    if (ready <= 0) return ready;
  }
  const std::uint64_t k = std::min<std::uint64_t>(tail_seen_ - head_, n);
  const std::uint64_t at = head_ & (capacity_ - 1);
  const std::uint64_t first = std::min(k, capacity_ - at);
  std::memcpy(out, data_ + at, first);
  std::memcpy(out + first, data_, k - first);
  head_ += k;
  ring_->head.store(head_, std::memory_order_release);
  return static_cast<std::int64_t>(k);
}

bool LaneReader::take_writer_parked() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our head before their flag
  return ring_->writer_parked.load(std::memory_order_relaxed) != 0 &&
         ring_->writer_parked.exchange(0, std::memory_order_acq_rel) != 0;
}

void LaneReader::park() noexcept {
  ring_->reader_parked.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our flag before their tail
}

void LaneReader::unpark() noexcept { ring_->reader_parked.store(0, std::memory_order_relaxed); }

// ---- Lane ----

std::unique_ptr<Lane> Lane::create(std::uint64_t capacity) {
  if (!valid_capacity(capacity)) throw std::invalid_argument("mp manager: a bad lane capacity");
  const std::size_t bytes = lane_bytes(capacity);
  int fd = ::memfd_create("mp.manager.lane", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw_errno("memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("memfd lane");
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("mmap");
  }
  auto* header = new (base) LaneHeader;
  header->capacity = capacity;
  return std::unique_ptr<Lane>(new Lane(fd, base, bytes, capacity));
}

std::unique_ptr<Lane> Lane::adopt(int fd, std::uint64_t capacity, std::string& why) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (!valid_capacity(capacity)) {
    why = "a ring capacity of " + std::to_string(capacity) + " bytes";
    return nullptr;
  }
  const std::size_t bytes = lane_bytes(capacity);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != bytes) {
    why = "the descriptor is not a lane of " + std::to_string(bytes) + " bytes";
    return nullptr;
  }
  // A lane that could shrink under our feet would turn our next read into a SIGBUS.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
    why = "the lane is not sealed against shrinking";
    return nullptr;
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    why = std::string("mmap: ") + std::strerror(errno);
    return nullptr;
  }
  const auto* header = static_cast<const LaneHeader*>(base);
  if (header->magic != kMagic || header->capacity != capacity ||
      header->rings[0].tail.load() != 0 || header->rings[1].head.load() != 0) {
    ::munmap(base, bytes);
    why = "the lane's header is not a fresh lane's";
    return nullptr;
  }
  return std::unique_ptr<Lane>(new Lane(-1, base, bytes, capacity));
}

Lane::~Lane() {
  close_fd();
  ::munmap(base_, bytes_);
}

void Lane::close_fd() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

LaneRing* Lane::ring(int i) noexcept {
  return &reinterpret_cast<LaneHeader*>(base_)->rings[i];
}

char* Lane::data(int i) noexcept {
  return base_ + kHeaderBytes + static_cast<std::size_t>(i) * capacity_;
}

ssize_t send_with_descriptor(int socket, const char* data, std::size_t size, int passed) noexcept {
  iovec iov{const_cast<char*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(h), &passed, sizeof passed);
  return ::sendmsg(socket, &m, MSG_NOSIGNAL);
}

bool drain_doorbells(int fd, int& error) noexcept {
  char bells[256];
  for (;;) {
    const ssize_t n = ::recv(fd, bells, sizeof bells, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    error = n == 0 ? 0 : errno;
    return false;
  }
}

void ring_doorbell(int fd) noexcept {
  const char bell = 0;
  ssize_t n;
  do {
    n = ::send(fd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
}

}  // namespace mp::detail::manager
