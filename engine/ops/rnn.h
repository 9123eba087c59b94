// Ops of the rnn family.
#pragma once

#include "engine/core/tensor.h"

namespace stackgrad {}  // namespace stackgrad
