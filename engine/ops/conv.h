// Ops of the conv family.
#pragma once

#include "engine/core/tensor.h"

namespace stackgrad {}  // namespace stackgrad
