// Trains a two-layer MLP on a synthetic spiral (K interleaved arms in the plane) with
// full-batch SGD, using only the engine: tensors, autograd, matmul, relu, cross_entropy.
// Needs no data files.
//   ./build/spiral_mlp [--epochs 400] [--points 200] [--classes 3] [--hidden 64] [--lr 1.0] [--seed 0]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/stackgrad.h"

using namespace stackgrad;

namespace {

struct Config {
  int64_t epochs = 400, points = 200, classes = 3, hidden = 64;
  double lr = 1.0, noise = 0.2;
  uint64_t seed = 0;
};

const char* kUsage =
    "usage: spiral_mlp [options]\n"
    "Trains a 2-layer MLP (relu) on a synthetic spiral with full-batch SGD and prints the loss\n"
    "and training accuracy.\n"
    "  --epochs N    training steps (default 400)\n"
    "  --points N    points per arm (default 200)\n"
    "  --classes K   number of arms/classes, 2..10 (default 3)\n"
    "  --hidden H    hidden units (default 64)\n"
    "  --lr X        learning rate (default 1.0)\n"
    "  --noise X     angular noise (default 0.2)\n"
    "  --seed S      random seed (default 0)\n"
    "  --help        this text\n";

int64_t parse_int(const std::string& flag, const char* v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  SG_CHECK(end != v && *end == '\0', flag, ": expected an integer, got '", v, "'");
  SG_CHECK(x >= lo && x <= hi, flag, ": ", x, " is out of range [", lo, ", ", hi, "]");
  return x;
}

double parse_double(const std::string& flag, const char* v) {
  char* end = nullptr;
  double x = std::strtod(v, &end);
  SG_CHECK(end != v && *end == '\0' && std::isfinite(x), flag, ": expected a number, got '", v, "'");
  return x;
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--help" || f == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    SG_CHECK(i + 1 < argc, "spiral_mlp: ", f, " needs a value (see --help)");
    const char* v = argv[++i];
    if (f == "--epochs") c.epochs = parse_int(f, v, 0, 1000000);
    else if (f == "--points") c.points = parse_int(f, v, 1, 1000000);
    else if (f == "--classes") c.classes = parse_int(f, v, 2, 10);
    else if (f == "--hidden") c.hidden = parse_int(f, v, 1, 100000);
    else if (f == "--lr") c.lr = parse_double(f, v);
    else if (f == "--noise") c.noise = parse_double(f, v);
    else if (f == "--seed") c.seed = static_cast<uint64_t>(parse_int(f, v, 0, INT64_MAX));
    else fail("spiral_mlp: unknown option '", f, "' (see --help)");
  }
  return c;
}

// Arm k: radius r in [0, 1], angle 4k + 4r plus noise: (r sin t, r cos t).
void make_spiral(const Config& c, Generator& gen, Tensor& x, Tensor& y) {
  const Shape grid = {c.classes, c.points};
  Tensor r = linspace(0.0, 1.0, c.points).unsqueeze(0).expand(grid).reshape({-1});
  Tensor arm = arange(c.classes).unsqueeze(1).expand(grid).reshape({-1});
  Tensor t = (arm.to(DType::f32) + r) * 4.0 + randn({c.classes * c.points}, gen) * c.noise;
  x = stack({r * sin(t), r * cos(t)}, 1);
  y = arm;
}

}  // namespace

int main(int argc, char** argv) try {
  Config c = parse(argc, argv);
  Generator gen(c.seed);
  Tensor x, y;
  make_spiral(c, gen, x, y);

  // Kaiming-normal weights for the relu layer, small output layer, zero biases.
  Tensor w1 = (randn({2, c.hidden}, gen) * std::sqrt(2.0 / 2.0)).requires_grad_();
  Tensor b1 = zeros({c.hidden}).requires_grad_();
  Tensor w2 = (randn({c.hidden, c.classes}, gen) * std::sqrt(1.0 / double(c.hidden))).requires_grad_();
  Tensor b2 = zeros({c.classes}).requires_grad_();
  std::vector<Tensor> params = {w1, b1, w2, b2};

  auto forward = [&](const Tensor& in) { return matmul(relu(matmul(in, w1) + b1), w2) + b2; };
  auto accuracy = [&]() {
    NoGradGuard no_grad;
    return mean((argmax(forward(x), 1) == y).to(DType::f32)).item();
  };

  std::printf("spiral: %lld points in %lld arms, MLP 2-%lld-%lld, SGD lr %g, %lld epochs\n",
              static_cast<long long>(c.points * c.classes), static_cast<long long>(c.classes),
              static_cast<long long>(c.hidden), static_cast<long long>(c.classes), c.lr,
              static_cast<long long>(c.epochs));
  std::printf("epoch %5d  loss %.4f  accuracy %.3f\n", 0,
              [&] { NoGradGuard g; return cross_entropy(forward(x), y).item(); }(), accuracy());
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    Tensor loss = cross_entropy(forward(x), y);
    for (auto& p : params) p.zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;
      for (auto& p : params) p.add_(p.grad(), -c.lr);
    }
    if (epoch % 50 == 0 || epoch == c.epochs)
      std::printf("epoch %5lld  loss %.4f  accuracy %.3f\n", static_cast<long long>(epoch), loss.item(),
                  accuracy());
  }
  return 0;
} catch (const Error& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
