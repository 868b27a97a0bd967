#pragma once
#include "mp/connection.h"
#include "mp/managers.h"
#include "mp/process.h"
#include "mp/queues.h"
#include "mp/shared_memory.h"
#include "mp/sharedctypes.h"
#include "mp/synchronize.h"
