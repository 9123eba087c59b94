// Process-wide switches that trade exactness for speed in the GPU kernels. Both builds have
// them (a CPU-only build stores the setting and nothing reads it), so user code need not ask
// which build it runs in.
#pragma once

namespace stackgrad {

// Whether f32 matrix products on a GPU (bmm, mm, matmul, dot, and the layers built on them) may
// run on tensor cores with TF32 inputs: each factor rounded to a 10-bit mantissa, products
// summed in f32. Several times faster on large products, with relative errors around 1e-3
// instead of f32's 1e-6. Off by default, so GPU results match the CPU to f32 rounding. CPU
// products and f64 products never change.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace stackgrad
