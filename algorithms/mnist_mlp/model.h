// The mnist_mlp model, shared by the executable and its test.
#pragma once

#include <memory>

#include "nn/nn.h"

namespace stackgrad::algo {

// The MNIST MLP: Flatten, Linear(784, H), ReLU, Dropout(p), Linear(H, H), ReLU, Dropout(p),
// Linear(H, 10), with torch's default init drawn from `gen`.
std::shared_ptr<nn::Sequential> make_mlp(int64_t hidden, double p, Generator& gen);

}  // namespace stackgrad::algo
