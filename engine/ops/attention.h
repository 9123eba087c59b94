// Ops of the attention family.
#pragma once

#include "engine/core/tensor.h"

namespace stackgrad {}  // namespace stackgrad
