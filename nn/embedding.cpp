#include "nn/embedding.h"

#include "nn/init.h"

namespace stackgrad::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions opts,
                     Generator& gen)
    : Module("Embedding"), num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
  SG_CHECK(num_embeddings > 0 && embedding_dim > 0,
           "Embedding: sizes must be positive, got num_embeddings=", num_embeddings,
           ", embedding_dim=", embedding_dim);
  if (opts.padding_idx) {
    int64_t p = *opts.padding_idx;
    SG_CHECK(p >= -num_embeddings && p < num_embeddings, "Embedding: padding_idx ", p,
             " out of range for num_embeddings=", num_embeddings);
    padding_idx = p < 0 ? p + num_embeddings : p;
  }
  register_parameter("weight", weight, empty({num_embeddings, embedding_dim}));
  normal_(weight, gen);
  if (padding_idx >= 0) {
    NoGradGuard no_grad;
    weight.select(0, padding_idx).zero_();
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  SG_CHECK(indices.dtype() == DType::i64 || indices.dtype() == DType::i32,
           "Embedding: expected integer indices (i64 or i32), got ", describe(indices));
  return embedding(weight, indices, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = str_cat(num_embeddings, ", ", embedding_dim);
  if (padding_idx >= 0) s += str_cat(", padding_idx=", padding_idx);
  return s;
}

}  // namespace stackgrad::nn
