// mp/synchronize.h — every synchronisation primitive of the runtime, named after Python's
// multiprocessing.synchronize.
//
//   mp::Lock, mp::RLock, mp::LockGuard<L>        mp/lock.h
//   mp::Semaphore, mp::BoundedSemaphore          mp/semaphore.h
//   mp::Event                                    mp/event.h
//   mp::Condition                                mp/condition.h
//   mp::Barrier                                  mp/barrier.h
//
// All are handles to state in a shared segment: copies name the same object, and they reach
// other processes by fork, spawn or thread (kInheritanceOnly), never through a queue or pipe.
// Every blocking call takes a timeout in seconds; negative (the default) waits forever.
#pragma once

#include "mp/barrier.h"
#include "mp/condition.h"
#include "mp/event.h"
#include "mp/lock.h"
#include "mp/semaphore.h"
