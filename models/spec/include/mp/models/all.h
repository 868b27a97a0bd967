// mp/models/all.h — every sequential specification of mp::models.
#pragma once

#include "mp/models/barrier.h"
#include "mp/models/condition.h"
#include "mp/models/dict.h"
#include "mp/models/event.h"
#include "mp/models/lock.h"
#include "mp/models/model.h"
#include "mp/models/pipe.h"
#include "mp/models/queue.h"
#include "mp/models/semaphore.h"
#include "mp/models/served.h"
#include "mp/models/value.h"
