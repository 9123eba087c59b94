// Reference kernels of the rnn family: plain loops in double, the oracle of the op tests.
// Gate order i, f, g, o; see engine/dispatch/ops/rnn.def for each kernel's arguments.
#include <cmath>
#include <vector>

#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

// Element (i, j) of a 2-D argument, (t, i, j) of a 3-D one, i of a 1-D one, any strides.
template <typename T>
T& at(const TensorArg& a, int64_t i) {
  return a.ptr<T>()[i * a.strides[0]];
}
template <typename T>
T& at(const TensorArg& a, int64_t i, int64_t j) {
  return a.ptr<T>()[i * a.strides[0] + j * a.strides[1]];
}
template <typename T>
T& at(const TensorArg& a, int64_t t, int64_t i, int64_t j) {
  return a.ptr<T>()[t * a.strides[0] + i * a.strides[1] + j * a.strides[2]];
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Row-major double matrices for the intermediate values.
using Mat = std::vector<double>;

// One LSTM step for all B rows: pre = bias + x w_ihᵀ + h w_hhᵀ, then the gate math.
// xr(b, k) and hr(b, k) read the inputs; gates [B, 4H] (activated), c_new and h_new [B, H].
template <typename XR, typename HR, typename CR, typename WI, typename WH, typename BR>
void cell_forward(int64_t B, int64_t I, int64_t H, XR xr, HR hr, CR cr, WI w_ih, WH w_hh, BR bias,
                  Mat& gates, Mat& c_new, Mat& h_new) {
  gates.assign(B * 4 * H, 0.0);
  c_new.assign(B * H, 0.0);
  h_new.assign(B * H, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < 4 * H; ++j) {
      double s = bias(j);
      for (int64_t k = 0; k < I; ++k) s += xr(b, k) * w_ih(j, k);
      for (int64_t k = 0; k < H; ++k) s += hr(b, k) * w_hh(j, k);
      const bool is_g = j >= 2 * H && j < 3 * H;
      gates[b * 4 * H + j] = is_g ? std::tanh(s) : sigmoid(s);
    }
    const double* g = &gates[b * 4 * H];
    for (int64_t j = 0; j < H; ++j) {
      const double c = g[H + j] * cr(b, j) + g[j] * g[2 * H + j];
      c_new[b * H + j] = c;
      h_new[b * H + j] = g[3 * H + j] * std::tanh(c);
    }
  }
}

// The gate math backward for one row element j: from dh', dc' (total, into c'), the activated
// gates, c and c', the pre-activation gate gradients and dc.
//   c' = f c + i g, h' = o tanh(c'):
//   dc'_tot = dc' + dh' o (1 - tanh²c'),  do = dh' tanh c',
//   di = dc'_tot g, df = dc'_tot c, dg = dc'_tot i, dc = dc'_tot f,
//   through the activations: σ' = σ(1 - σ), tanh' = 1 - tanh².
struct GateGrad {
  double di, df, dg, do_, dc;
};
GateGrad cell_backward(double i, double f, double g, double o, double c, double c_new, double dh,
                       double dc_new) {
  const double tc = std::tanh(c_new);
  const double dct = dc_new + dh * o * (1.0 - tc * tc);
  return {dct * g * i * (1.0 - i), dct * c * f * (1.0 - f), dct * i * (1.0 - g * g),
          dh * tc * o * (1.0 - o), dct * f};
}

void ref_lstm_cell(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h = call.in[1], &c = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &bias = call.in[5];
  const int64_t B = x.shape[0], I = x.shape[1], H = h.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "lstm_cell", [&] {
    using T = scalar_t;
    auto rd = [](const TensorArg& a) {
      return [&a](int64_t i, int64_t j) { return static_cast<double>(at<T>(a, i, j)); };
    };
    Mat gates, c_new, h_new;
    cell_forward(
        B, I, H, rd(x), rd(h), rd(c), rd(w_ih), rd(w_hh),
        [&](int64_t j, int64_t = 0) { return static_cast<double>(at<T>(bias, j)); }, gates, c_new,
        h_new);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        at<T>(call.out[0], b, j) = static_cast<T>(h_new[b * H + j]);
        at<T>(call.out[1], b, j) = static_cast<T>(c_new[b * H + j]);
      }
      for (int64_t j = 0; j < 4 * H; ++j)
        at<T>(call.out[2], b, j) = static_cast<T>(gates[b * 4 * H + j]);
    }
  });
}

void ref_lstm_cell_backward(const KernelCall& call) {
  const TensorArg &gates = call.in[0], &c = call.in[1], &c_new = call.in[2], &dh = call.in[3],
                  &dc_new = call.in[4], &dgates = call.out[0], &dc = call.out[1];
  const int64_t B = c.shape[0], H = c.shape[1];
  SG_DISPATCH_FLOAT(c.dtype, "lstm_cell_backward", [&] {
    using T = scalar_t;
    auto rd = [](const TensorArg& a, int64_t i, int64_t j) {
      return static_cast<double>(at<T>(a, i, j));
    };
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        const GateGrad d = cell_backward(
            rd(gates, b, j), rd(gates, b, H + j), rd(gates, b, 2 * H + j), rd(gates, b, 3 * H + j),
            rd(c, b, j), rd(c_new, b, j), rd(dh, b, j), rd(dc_new, b, j));
        at<T>(dgates, b, j) = static_cast<T>(d.di);
        at<T>(dgates, b, H + j) = static_cast<T>(d.df);
        at<T>(dgates, b, 2 * H + j) = static_cast<T>(d.dg);
        at<T>(dgates, b, 3 * H + j) = static_cast<T>(d.do_);
        at<T>(dc, b, j) = static_cast<T>(d.dc);
      }
    }
  });
}

void ref_lstm(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h0 = call.in[1], &c0 = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &bias = call.in[5];
  const TensorArg &out = call.out[0], &h_last = call.out[1], &c_last = call.out[2],
                  &cs = call.out[3], &gates_out = call.out[4];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = h0.shape[1];
  SG_DISPATCH_FLOAT(x.dtype, "lstm", [&] {
    using T = scalar_t;
    auto rd = [](const TensorArg& a) {
      return [&a](int64_t i, int64_t j) { return static_cast<double>(at<T>(a, i, j)); };
    };
    Mat h(B * H), c(B * H), gates, c_new, h_new;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        h[b * H + j] = at<T>(h0, b, j);
        c[b * H + j] = at<T>(c0, b, j);
      }
    for (int64_t t = 0; t < T_; ++t) {
      cell_forward(
          B, I, H, [&](int64_t b, int64_t k) { return static_cast<double>(at<T>(x, t, b, k)); },
          [&](int64_t b, int64_t k) { return h[b * H + k]; },
          [&](int64_t b, int64_t k) { return c[b * H + k]; }, rd(w_ih), rd(w_hh),
          [&](int64_t j, int64_t = 0) { return static_cast<double>(at<T>(bias, j)); }, gates, c_new,
          h_new);
      h = h_new;
      c = c_new;
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t j = 0; j < H; ++j) {
          at<T>(out, t, b, j) = static_cast<T>(h[b * H + j]);
          at<T>(cs, t, b, j) = static_cast<T>(c[b * H + j]);
        }
        for (int64_t j = 0; j < 4 * H; ++j)
          at<T>(gates_out, t, b, j) = static_cast<T>(gates[b * 4 * H + j]);
      }
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        at<T>(h_last, b, j) = static_cast<T>(h[b * H + j]);
        at<T>(c_last, b, j) = static_cast<T>(c[b * H + j]);
      }
  });
}

// Backward through time, step by step from the last: dh collects d_output[t] and the
// recurrent gradient dgates[t+1] w_hh; then the weight gradients sum over every step.
void ref_lstm_backward(const KernelCall& call) {
  const TensorArg &x = call.in[0], &h0 = call.in[1], &c0 = call.in[2], &w_ih = call.in[3],
                  &w_hh = call.in[4], &out = call.in[5], &cs = call.in[6], &gates = call.in[7],
                  &d_out = call.in[8], &dh_last = call.in[9], &dc_last = call.in[10];
  const TensorArg &dx = call.out[0], &dh0 = call.out[1], &dc0 = call.out[2], &dw_ih = call.out[3],
                  &dw_hh = call.out[4], &db = call.out[5];
  const int64_t T_ = x.shape[0], B = x.shape[1], I = x.shape[2], H = h0.shape[1], G = 4 * H;
  SG_DISPATCH_FLOAT(x.dtype, "lstm_backward", [&] {
    using T = scalar_t;
    auto rd = [](const TensorArg& a, int64_t i, int64_t j) {
      return static_cast<double>(at<T>(a, i, j));
    };
    auto rd3 = [](const TensorArg& a, int64_t t, int64_t i, int64_t j) {
      return static_cast<double>(at<T>(a, t, i, j));
    };
    // h_{t-1} and c_{t-1} of step t.
    auto h_prev = [&](int64_t t, int64_t b, int64_t k) {
      return t == 0 ? rd(h0, b, k) : rd3(out, t - 1, b, k);
    };
    auto c_prev = [&](int64_t t, int64_t b, int64_t k) {
      return t == 0 ? rd(c0, b, k) : rd3(cs, t - 1, b, k);
    };
    Mat dgates(T_ * B * G), dh(B * H), dc(B * H);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        dh[b * H + j] = rd(dh_last, b, j);
        dc[b * H + j] = rd(dc_last, b, j);
      }
    for (int64_t t = T_ - 1; t >= 0; --t) {
      double* dg = &dgates[t * B * G];
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < H; ++j) {
          const GateGrad d = cell_backward(rd3(gates, t, b, j), rd3(gates, t, b, H + j),
                                           rd3(gates, t, b, 2 * H + j), rd3(gates, t, b, 3 * H + j),
                                           c_prev(t, b, j), rd3(cs, t, b, j),
                                           dh[b * H + j] + rd3(d_out, t, b, j), dc[b * H + j]);
          dg[b * G + j] = d.di;
          dg[b * G + H + j] = d.df;
          dg[b * G + 2 * H + j] = d.dg;
          dg[b * G + 3 * H + j] = d.do_;
          dc[b * H + j] = d.dc;
        }
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < H; ++k) {
          double s = 0;
          for (int64_t j = 0; j < G; ++j) s += dg[b * G + j] * rd(w_hh, j, k);
          dh[b * H + k] = s;
        }
    }
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        at<T>(dh0, b, j) = static_cast<T>(dh[b * H + j]);
        at<T>(dc0, b, j) = static_cast<T>(dc[b * H + j]);
      }
    for (int64_t t = 0; t < T_; ++t)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < I; ++k) {
          double s = 0;
          for (int64_t j = 0; j < G; ++j) s += dgates[(t * B + b) * G + j] * rd(w_ih, j, k);
          at<T>(dx, t, b, k) = static_cast<T>(s);
        }
    for (int64_t j = 0; j < G; ++j) {
      double sb = 0;
      std::vector<double> si(I, 0.0), sh(H, 0.0);
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t b = 0; b < B; ++b) {
          const double d = dgates[(t * B + b) * G + j];
          sb += d;
          for (int64_t k = 0; k < I; ++k) si[k] += d * rd3(x, t, b, k);
          for (int64_t k = 0; k < H; ++k) sh[k] += d * h_prev(t, b, k);
        }
      at<T>(db, j) = static_cast<T>(sb);
      for (int64_t k = 0; k < I; ++k) at<T>(dw_ih, j, k) = static_cast<T>(si[k]);
      for (int64_t k = 0; k < H; ++k) at<T>(dw_hh, j, k) = static_cast<T>(sh[k]);
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_rnn() {
  register_kernel(OpId::lstm_cell, Backend::reference, kernels::ref_lstm_cell);
  register_kernel(OpId::lstm_cell_backward, Backend::reference, kernels::ref_lstm_cell_backward);
  register_kernel(OpId::lstm, Backend::reference, kernels::ref_lstm);
  register_kernel(OpId::lstm_backward, Backend::reference, kernels::ref_lstm_backward);
}
}  // namespace stackgrad
