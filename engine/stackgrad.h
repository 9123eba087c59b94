// The whole engine in one include.
#pragma once

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/tensor.h"
#include "engine/dispatch/dispatch.h"
#include "engine/io/tensor_io.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/matmul.h"
#include "engine/ops/nn.h"
#include "engine/ops/random.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/sparse.h"
#include "engine/runtime/cpu_allocator.h"
#include "engine/runtime/parallel.h"
