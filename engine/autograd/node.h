// The autograd graph: a Node per differentiable op call, with an Edge to the node that produced
// each input (or to an AccumulateGrad node for a leaf that requires grad).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/core/tensor.h"

namespace stackgrad {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  int input_nr = 0;          // which output of `fn` the input was
};

// Shape, dtype and device of a node's output, so a missing output gradient can be zero-filled.
struct OutputMeta {
  Shape shape;
  DType dtype = DType::f32;
  Device device;
};

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  // Frees the chain of nodes this one solely owns iteratively: the recursive destruction of a
  // 10,000-step unrolled graph would overflow the stack.
  virtual ~Node();
  const std::string& name() const { return name_; }

  // Gradients w.r.t. this node's outputs in, gradients w.r.t. its inputs out (one per edge;
  // an undefined Tensor means "no gradient"). Runs with grad mode off.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
  // Drops saved tensors after a backward pass without retain_graph.
  virtual void release() {}

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;

 private:
  std::string name_;
};

// The sink for a leaf tensor's gradient: adds it into `.grad`.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
      : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// A tensor saved for backward, with the storage version at save time: reading it after an
// in-place write to that storage is an error naming the op that saved it.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, std::string saved_by);
  Tensor get() const;

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
  std::string saved_by_;
};

// A node whose backward is a lambda: the usual way ops record history.
class FunctionNode : public Node {
 public:
  using Backward = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;
  FunctionNode(std::string name, Backward fn) : Node(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  void release() override { fn_ = nullptr; }

 private:
  Backward fn_;
};

// True when grad mode is on and any input requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Connects `outputs` to a new FunctionNode named `name` over `inputs`, when any input requires
// grad (and grad mode is on). `backward` gets one gradient per output (zero-filled when unused)
// and returns one gradient per input (undefined for inputs that need none).
void record(const std::string& name, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs, FunctionNode::Backward backward);

// Runs backward from `roots` with the given gradients.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

}  // namespace stackgrad
