// Minimal declarations mirroring docs/api-contract.md (mp/listener.h): Listener and Client
// live beside Connection in the stubs.
#pragma once
#include "mp/connection.h"
