// A deliberately broken queue, built only into the test tree: the harness must catch it.
//
//   LossyQueue   a get that finds one item left while another get is under way takes the
//                item and reports Empty: under contention the last item vanishes
//
// It wraps a real mp::Queue and counts the gets in progress in shared memory, so it is
// shared across fork and spawn as well as threads, and it calls MP_HOOK in its window so
// that schedule noise can widen it.
#pragma once

#include <atomic>
#include <cstdint>

#include "broken/shared.h"
#include "mp/hook.h"
#include "mp/queues.h"

namespace ipcheck::broken {

class LossyQueue {
 public:
  void put(std::int64_t item) { queue_.put(item); }

  // Throws mp::Empty when the queue is empty — or when it dropped the last item.
  std::int64_t get_nowait() {
    const int others = getters_->fetch_add(1);
    MP_HOOK("broken.queue.counted");
    const bool last = queue_.qsize() == 1;
    MP_HOOK("broken.queue.checked");
    try {
      std::int64_t item = queue_.get_nowait();
      getters_->fetch_sub(1);
      if (last && (others > 0 || getters_->load() > 0)) throw mp::Empty();  // BUG: dropped
      return item;
    } catch (const mp::Empty&) {
      getters_->fetch_sub(1);
      throw;
    }
  }

  std::int64_t qsize() const { return queue_.qsize(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue_, getters_);
  }

 private:
  mp::Queue<std::int64_t> queue_;
  Shared<std::atomic<int>> getters_{"lossy-queue", 0};
};

}  // namespace ipcheck::broken
