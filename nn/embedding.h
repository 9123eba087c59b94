// Embedding: a lookup table of num_embeddings vectors of size embedding_dim, indexed by integer
// tensors of any shape (torch.nn.Embedding's names and default init, N(0, 1)).
//
//   auto emb = std::make_shared<nn::Embedding>(10000, 128, nn::EmbeddingOptions{.padding_idx = 0});
//   Tensor tokens = from_vector<int64_t>({5, 0, 42}, {1, 3});
//   Tensor vectors = (*emb)(tokens);  // [1, 3, 128]; row 0 is zero and never trained
#pragma once

#include <optional>

#include "nn/module.h"

namespace stackgrad::nn {

struct EmbeddingOptions {
  // A row that starts at zero and whose gradient stays zero (negative counts from the end).
  std::optional<int64_t> padding_idx = std::nullopt;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions opts = {},
            Generator& gen = default_generator());
  // indices (i64 or i32, any shape) -> indices.shape + [embedding_dim].
  Tensor forward(const Tensor& indices) override;
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  int64_t padding_idx = -1;  // normalised to [0, num_embeddings), or -1 for none
  Tensor weight;             // [num_embeddings, embedding_dim]
};

}  // namespace stackgrad::nn
