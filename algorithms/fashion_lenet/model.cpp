#include "algorithms/fashion_lenet/model.h"

namespace stackgrad::algo {

std::shared_ptr<nn::Sequential> make_lenet(double p, Generator& gen) {
  using std::make_shared;
  return make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      make_shared<nn::Conv2d>(1, 16, 5, nn::Conv2dOptions{.padding = 2}, gen), make_shared<nn::BatchNorm2d>(16),
      make_shared<nn::ReLU>(), make_shared<nn::MaxPool2d>(2),
      make_shared<nn::Conv2d>(16, 32, 5, nn::Conv2dOptions{.padding = 2}, gen), make_shared<nn::BatchNorm2d>(32),
      make_shared<nn::ReLU>(), make_shared<nn::MaxPool2d>(2),
      make_shared<nn::Flatten>(), make_shared<nn::Linear>(32 * 7 * 7, 128, nn::LinearOptions{}, gen),
      make_shared<nn::ReLU>(), make_shared<nn::Dropout>(p, gen),
      make_shared<nn::Linear>(128, 10, nn::LinearOptions{}, gen)});
}

}  // namespace stackgrad::algo
