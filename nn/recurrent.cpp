#include "nn/recurrent.h"

#include <cmath>
#include <sstream>
#include <string>

namespace stackgrad::nn {

namespace {

// PyTorch's recurrent initialisation: every weight and bias U(-1/√H, 1/√H).
Tensor uniform_init(const Shape& shape, int64_t hidden, Generator& gen) {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden));
  return rand(shape, gen, DType::f32, -k, k);
}

}  // namespace

LSTM::LSTM(int64_t input_size, int64_t hidden_size, LstmOptions options, Generator& gen)
    : Module("LSTM"),
      input_size_(input_size),
      hidden_size_(hidden_size),
      options_(options),
      gen_(&gen) {
  SG_CHECK(input_size > 0 && hidden_size > 0 && options.num_layers > 0,
           "LSTM: expected positive input_size, hidden_size and num_layers, got ", input_size, ", ",
           hidden_size, ", ", options.num_layers);
  SG_CHECK(options.dropout >= 0.0 && options.dropout < 1.0, "LSTM: dropout must be in [0, 1), got ",
           options.dropout);
  const int64_t D = options.bidirectional ? 2 : 1, H = hidden_size;
  cells_.resize(static_cast<size_t>(options.num_layers * D));
  for (int64_t l = 0; l < options.num_layers; ++l) {
    const int64_t in = l == 0 ? input_size : D * H;
    for (int64_t d = 0; d < D; ++d) {
      Cell& cell = cells_[static_cast<size_t>(l * D + d)];
      const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      register_parameter("weight_ih" + suffix, cell.weight_ih, uniform_init({4 * H, in}, H, gen));
      register_parameter("weight_hh" + suffix, cell.weight_hh, uniform_init({4 * H, H}, H, gen));
      if (options.bias) {
        register_parameter("bias_ih" + suffix, cell.bias_ih, uniform_init({4 * H}, H, gen));
        register_parameter("bias_hh" + suffix, cell.bias_hh, uniform_init({4 * H}, H, gen));
      }
    }
  }
}

void LSTM::check_state(const char* name, const Tensor& s, int64_t batch, bool batched) const {
  const int64_t LD = options_.num_layers * (options_.bidirectional ? 2 : 1);
  const Shape want = batched ? Shape{LD, batch, hidden_size_} : Shape{LD, hidden_size_};
  SG_CHECK(s.shape() == want, "LSTM: expected ", name, " ", shape_str(want),
           " (num_layers * directions, batch, hidden), got ", shape_str(s.shape()));
}

LstmOutput LSTM::forward(const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in) {
  check_defined("LSTM", x_in, "x");
  const bool batched = x_in.dim() == 3;
  SG_CHECK((x_in.dim() == 2 || batched) && x_in.shape().back() == input_size_,
           "LSTM: expected input ", options_.batch_first ? "[B, T, " : "[T, B, ", input_size_,
           "] (or unbatched [T, ", input_size_, "]), got ", shape_str(x_in.shape()));
  // The engine op wants time first with a batch axis.
  Tensor x = !batched ? x_in.unsqueeze(1) : options_.batch_first ? x_in.transpose(0, 1) : x_in;
  const int64_t B = x.size(1), D = options_.bidirectional ? 2 : 1;
  Tensor h0 = h0_in, c0 = c0_in;
  if (h0.defined()) {
    check_state("h0", h0, B, batched);
    if (!batched) h0 = h0.unsqueeze(1);
  }
  if (c0.defined()) {
    check_state("c0", c0, B, batched);
    if (!batched) c0 = c0.unsqueeze(1);
  }

  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = x.contiguous();
  for (int64_t l = 0; l < options_.num_layers; ++l) {
    std::vector<Tensor> outputs;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t idx = l * D + d;
      const Cell& cell = cells_[static_cast<size_t>(idx)];
      Tensor h = h0.defined() ? h0.select(0, idx) : Tensor();
      Tensor c = c0.defined() ? c0.select(0, idx) : Tensor();
      Tensor seq = d == 0 ? layer_input : flip(layer_input, {0});
      LstmResult r = lstm(seq, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh);
      outputs.push_back(d == 0 ? r.output : flip(r.output, {0}));
      h_n.push_back(r.h);
      c_n.push_back(r.c);
    }
    layer_input = D == 1 ? outputs[0] : cat(outputs, 2);
    if (l + 1 < options_.num_layers && options_.dropout > 0.0)
      layer_input = dropout(layer_input, options_.dropout, is_training(), *gen_);
  }
  LstmOutput out{layer_input, stack(h_n, 0), stack(c_n, 0)};
  if (!batched) {
    out.output = out.output.squeeze(1);
    out.h_n = out.h_n.squeeze(1);
    out.c_n = out.c_n.squeeze(1);
  } else if (options_.batch_first) {
    out.output = out.output.transpose(0, 1);
  }
  return out;
}

std::string LSTM::extra_repr() const {
  std::ostringstream s;
  s << "input=" << input_size_ << ", hidden=" << hidden_size_
    << ", num_layers=" << options_.num_layers << ", bias=" << (options_.bias ? "true" : "false")
    << ", batch_first=" << (options_.batch_first ? "true" : "false")
    << ", dropout=" << options_.dropout
    << ", bidirectional=" << (options_.bidirectional ? "true" : "false");
  return s.str();
}

// --- Tree-LSTM ------------------------------------------------------------------------------

TreeLstmCell::TreeLstmCell(int64_t input_size, int64_t hidden_size, TreeLstmOptions options,
                           Generator& gen)
    : Module("TreeLstmCell"),
      input_size_(input_size),
      hidden_size_(hidden_size),
      options_(options) {
  SG_CHECK(input_size > 0 && hidden_size > 0,
           "TreeLstmCell: expected positive input_size and hidden_size, got ", input_size, ", ",
           hidden_size);
  const bool nary = options.kind == TreeLstmKind::nary;
  SG_CHECK(!nary || options.arity >= 1, "TreeLstmCell: arity must be at least 1, got ",
           options.arity);
  const int64_t H = hidden_size, rows = nary ? (3 + options.arity) * H : 4 * H;
  register_parameter("w", w, uniform_init({rows, input_size}, H, gen));
  register_parameter("u", u, uniform_init({rows, nary ? options.arity * H : H}, H, gen));
  if (options.bias) register_parameter("b", b, uniform_init({rows}, H, gen));
}

LstmState TreeLstmCell::forward(const Tensor& x, const Forest& forest) {
  check_defined("TreeLstmCell", x, "x");
  SG_CHECK(x.dim() == 2 && x.size(1) == input_size_ && x.size(0) == forest.num_nodes(),
           "TreeLstmCell: expected x [", forest.num_nodes(), ", ", input_size_,
           "] (one row per forest node), got ", shape_str(x.shape()));
  if (options_.kind == TreeLstmKind::nary)
    return tree_lstm_nary(x, forest, w, u, b, options_.arity);
  return tree_lstm_child_sum(x, forest, w, u, b);
}

std::string TreeLstmCell::extra_repr() const {
  std::ostringstream s;
  s << "input=" << input_size_ << ", hidden=" << hidden_size_ << ", kind="
    << (options_.kind == TreeLstmKind::nary ? "nary(" + std::to_string(options_.arity) + ")"
                                            : std::string("child_sum"))
    << ", bias=" << (options_.bias ? "true" : "false");
  return s.str();
}

}  // namespace stackgrad::nn
