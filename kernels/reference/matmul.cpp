// Reference kernels of the matmul family: for every output element, a plain loop over K in
// double (the oracle the packed CPU GEMM is tested against).
#include "engine/dispatch/registry.h"
#include "kernels/reference/loops.h"

namespace stackgrad::kernels {
namespace {

void ref_bmm(const KernelCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &out = c.out[0];
  const int nd = out.ndim;
  const int64_t M = a.shape[nd - 2], K = a.shape[nd - 1], N = b.shape[nd - 1];
  int64_t batch = 1;
  for (int d = 0; d < nd - 2; ++d) batch *= out.shape[d];
  SG_DISPATCH_FLOAT(a.dtype, "bmm", [&] {
    const scalar_t* pa = a.ptr<scalar_t>();
    const scalar_t* pb = b.ptr<scalar_t>();
    scalar_t* pc = out.ptr<scalar_t>();
    const int64_t ars = a.strides[nd - 2], acs = a.strides[nd - 1];
    const int64_t brs = b.strides[nd - 2], bcs = b.strides[nd - 1];
    const int64_t crs = out.strides[nd - 2], ccs = out.strides[nd - 1];
    for (int64_t bi = 0; bi < batch; ++bi) {
      const scalar_t* ab = pa + batch_offset(bi, a);
      const scalar_t* bb = pb + batch_offset(bi, b);
      scalar_t* cb = pc + batch_offset(bi, out);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k)
            acc += static_cast<double>(ab[i * ars + k * acs]) *
                   static_cast<double>(bb[k * brs + j * bcs]);
          cb[i * crs + j * ccs] = static_cast<scalar_t>(acc);
        }
    }
  });
}

}  // namespace
}  // namespace stackgrad::kernels

namespace stackgrad {
void register_reference_matmul() {
  register_kernel(OpId::bmm, Backend::reference, kernels::ref_bmm);
}
}  // namespace stackgrad
