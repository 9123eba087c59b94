#include <iostream>
#include "engine/stackgrad.h"
using namespace stackgrad;
int main() {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  Tensor y = sum(exp(x) * x.t().t() + 1.0);
  y.backward();
  std::cout << x << "\n" << y << "\n" << x.grad() << "\n" << x.t() << "\n";
  std::cout << arange(2000).reshape({20, 100}) << "\n";
}
