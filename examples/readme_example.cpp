// The example of README.md, kept compiling: fit nothing, just one forward and backward pass.
#include <iostream>
#include "engine/stackgrad.h"
using namespace stackgrad;

int main() {
  Generator gen(0);
  Tensor x = randn({64, 3}, gen);                           // inputs
  Tensor y = matmul(x, from_vector<float>({1, -2, 0.5}, {3, 1}));  // targets of a linear map
  Tensor w = zeros({3, 1}).requires_grad_();                 // a parameter
  Tensor loss = mse_loss(matmul(x, w), y);
  loss.backward();                                           // d loss / d w into w.grad()
  std::cout << loss.item() << "\n" << w.grad() << "\n";
}
