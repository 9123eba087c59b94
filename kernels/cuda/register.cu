// register_cuda_kernels(): the CUDA column of the kernel table, one hook per family that has
// CUDA kernels (kernels/cuda/<family>.cu). Families not listed have no CUDA kernels yet; their
// ops fail on a GPU tensor with "<op>: no kernel for backend cuda (device cuda:N)", and the
// support-matrix test (tests/unit/test_support_matrix.cpp) prints which ones they are.
#include "engine/dispatch/registry.h"

namespace stackgrad {

void register_cuda_elementwise();
void register_cuda_reduce();
void register_cuda_softmax();
void register_cuda_shape();
void register_cuda_index();
void register_cuda_random();
void register_cuda_nn();
void register_cuda_matmul();
void register_cuda_rnn();
void register_cuda_linalg();
void register_cuda_sparse();
void register_cuda_conv();
void register_cuda_scan();
void register_cuda_sort();
void register_cuda_norm();
void register_cuda_pool();
void register_cuda_optim();
void register_cuda_attention();

void register_cuda_kernels() {
  register_cuda_elementwise();
  register_cuda_reduce();
  register_cuda_softmax();
  register_cuda_shape();
  register_cuda_index();
  register_cuda_random();
  register_cuda_nn();
  register_cuda_matmul();
  register_cuda_rnn();
  register_cuda_linalg();
  register_cuda_sparse();
  register_cuda_conv();
  register_cuda_scan();
  register_cuda_sort();
  register_cuda_norm();
  register_cuda_pool();
  register_cuda_optim();
  register_cuda_attention();
}

}  // namespace stackgrad
