// The per-element updates of the fused optimiser steps (ops adam_step, sgd_step), shared by the
// reference, CPU and CUDA kernels. They replay nn::Adam's and nn::SGD's unfused tensor ops one
// element at a time: every operation is rounded to T (the scalars too, as scalar_like does), in
// the same order, so a fused step equals the unfused one bit for bit. `A` supplies the four
// operations with that rounding: on the host a product is pinned to a register before it is
// added (the build contracts a * b + c into an FMA otherwise, which the separate ops never do);
// on the GPU the __f*_rn / __d*_rn intrinsics, which nvcc never contracts.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#ifdef __CUDACC__
#define SG_OPTIM_HD __host__ __device__
#else
#define SG_OPTIM_HD
#endif

namespace stackgrad::kernels {

// Products and quotients as stored values, never fused with a following add.
struct HostArith {
  template <typename T>
  static T pin(T v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
    asm("" : "+w"(v));
#endif
    return v;
  }
  template <typename T>
  static T mul(T a, T b) {
    return pin(a * b);
  }
  template <typename T>
  static T add(T a, T b) {
    return pin(a + b);
  }
  template <typename T>
  static T div(T a, T b) {
    return pin(a / b);
  }
  template <typename T>
  static T sqrt(T a) {
    return std::sqrt(a);
  }
};

// The scalars of one adam_step call, rounded to T as the unfused ops round them.
template <typename T>
struct AdamScalars {
  T decay, wd, beta1, omb1, beta2, omb2, eps;
  bool decoupled, l2, amsgrad;
};

// Parameter i's bias corrections (attrs.ints after the three shared doubles).
template <typename T>
struct AdamParamScalars {
  T neg_step, bc2_sqrt;
};

inline double int_bits_to_double(int64_t v) { return std::bit_cast<double>(v); }

template <typename T>
AdamScalars<T> adam_scalars(double lr, double weight_decay, bool amsgrad, bool decoupled,
                            const std::vector<int64_t>& ints) {
  const double beta1 = int_bits_to_double(ints[0]), beta2 = int_bits_to_double(ints[1]);
  const double eps = int_bits_to_double(ints[2]);
  return {static_cast<T>(1.0 - lr * weight_decay),
          static_cast<T>(weight_decay),
          static_cast<T>(beta1),
          static_cast<T>(1.0 - beta1),
          static_cast<T>(beta2),
          static_cast<T>(1.0 - beta2),
          static_cast<T>(eps),
          decoupled,
          !decoupled && weight_decay != 0,
          amsgrad};
}

template <typename T>
AdamParamScalars<T> adam_param_scalars(const std::vector<int64_t>& ints, size_t i) {
  return {static_cast<T>(-int_bits_to_double(ints[3 + 2 * i])),
          static_cast<T>(int_bits_to_double(ints[4 + 2 * i]))};
}

// One element of nn::Adam::step(); vmax is null unless amsgrad.
template <typename A, typename T>
SG_OPTIM_HD inline void adam_update(T& p, T g, T& m, T& v, T* vmax, const AdamScalars<T>& s,
                                    const AdamParamScalars<T>& q) {
  if (s.decoupled)
    p = A::mul(p, s.decay);  // p.mul_(1 - lr * weight_decay)
  else if (s.l2)
    g = A::add(g, A::mul(p, s.wd));  // grad + p * weight_decay
  m = A::add(A::mul(m, s.beta1), A::mul(g, s.omb1));
  v = A::add(A::mul(v, s.beta2), A::mul(A::mul(g, g), s.omb2));
  T second = v;
  if (s.amsgrad) {
    const T x = *vmax;  // maximum(max_exp_avg_sq, exp_avg_sq), NaN wins as in scalar_math.h
    *vmax = (x > v || x != x) ? x : v;
    second = *vmax;
  }
  const T denom = A::add(A::div(A::sqrt(second), q.bc2_sqrt), s.eps);
  p = A::add(p, A::mul(A::div(m, denom), q.neg_step));
}

template <typename T>
struct SgdScalars {
  T wd, momentum, omd, neg_lr;
  bool l2, has_momentum, nesterov;
};

template <typename T>
SgdScalars<T> sgd_scalars(double lr, double weight_decay, bool nesterov,
                          const std::vector<int64_t>& ints) {
  const double momentum = int_bits_to_double(ints[0]), dampening = int_bits_to_double(ints[1]);
  return {static_cast<T>(weight_decay),
          static_cast<T>(momentum),
          static_cast<T>(1.0 - dampening),
          static_cast<T>(-lr),
          weight_decay != 0,
          momentum != 0,
          nesterov};
}

// One element of nn::SGD::step(); buf is null without momentum, `first`: the buffer is new.
template <typename A, typename T>
SG_OPTIM_HD inline void sgd_update(T& p, T g, T* buf, bool first, const SgdScalars<T>& s) {
  T d = g;
  if (s.l2) d = A::add(g, A::mul(p, s.wd));
  if (s.has_momentum) {
    *buf = first ? d : A::add(A::mul(*buf, s.momentum), A::mul(d, s.omd));
    d = s.nesterov ? A::add(d, A::mul(*buf, s.momentum)) : *buf;
  }
  p = A::add(p, A::mul(d, s.neg_lr));
}

}  // namespace stackgrad::kernels
