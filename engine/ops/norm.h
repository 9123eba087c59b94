// Ops of the norm family.
#pragma once

#include "engine/core/tensor.h"

namespace stackgrad {}  // namespace stackgrad
