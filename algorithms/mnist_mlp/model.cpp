#include "algorithms/mnist_mlp/model.h"

namespace stackgrad::algo {

std::shared_ptr<nn::Sequential> make_mlp(int64_t hidden, double p, Generator& gen) {
  return std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, hidden, nn::LinearOptions{}, gen),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(p, gen),
      std::make_shared<nn::Linear>(hidden, hidden, nn::LinearOptions{}, gen), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(p, gen), std::make_shared<nn::Linear>(hidden, 10, nn::LinearOptions{}, gen)});
}

}  // namespace stackgrad::algo
