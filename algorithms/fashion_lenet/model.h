// The fashion_lenet model, shared by the executable and its test.
#pragma once

#include <memory>

#include "nn/nn.h"

namespace stackgrad::algo {

// The LeNet-style CNN: [Conv2d 5x5 (16, then 32 channels, padding 2), BatchNorm2d, ReLU,
// MaxPool2d 2] x 2, Flatten, Linear(32*7*7, 128), ReLU, Dropout(p), Linear(128, 10).
std::shared_ptr<nn::Sequential> make_lenet(double p, Generator& gen);

}  // namespace stackgrad::algo
