// The backward engine: collects the graph reachable from the roots with an explicit stack (no
// recursion, so a 10,000-step unrolled chain is fine), counts each node's consumers, then runs
// nodes in topological order (Kahn), summing the gradients that flow into each input.
#include <unordered_map>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace stackgrad {

// Keeps a detached handle: backward needs only the values, and holding the tensor itself would
// make a cycle (output -> its node -> saved output) that is never freed when an op saves its
// own output and no backward runs.
SavedTensor::SavedTensor(const Tensor& t, std::string saved_by)
    : tensor_(t.defined() ? t.detach() : t),
      version_(t.defined() ? t.storage()->version() : 0),
      saved_by_(std::move(saved_by)) {}

Tensor SavedTensor::get() const {
  if (tensor_.defined() && tensor_.storage()->version() != version_)
    fail("autograd: a tensor saved by ", saved_by_, " for backward (", describe(tensor_),
         ") was modified in place after it was saved (version ", tensor_.storage()->version(),
         ", saved at version ", version_, "); clone() it before writing to it");
  return tensor_;
}

Node::~Node() {
  std::vector<std::shared_ptr<Node>> owned;
  auto take_sole_owners = [&owned](std::vector<Edge>& edges) {
    for (auto& e : edges)
      if (e.fn && e.fn.use_count() == 1) owned.push_back(std::move(e.fn));
  };
  take_sole_owners(next_edges);
  while (!owned.empty()) {
    std::shared_ptr<Node> node = std::move(owned.back());
    owned.pop_back();
    take_sole_owners(node->next_edges);
    // `node` is destroyed here with no solely owned successors left: no recursion.
  }
}

namespace {
// a + b for two gradients of one tensor. Half gradients (from ops that take half inputs, such as
// attention) are added in f32 and rounded once, as the half kernels compute.
Tensor sum_grads(const Tensor& a, const Tensor& b) {
  if (!is_half(a.dtype())) return add(a, b);
  return add(a.to(DType::f32), b.to(DType::f32)).to(a.dtype());
}
}  // namespace

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  Tensor g = grads[0];
  if (!g.defined()) return {};
  SG_CHECK(g.shape() == leaf_->shape, "autograd: gradient of shape ", shape_str(g.shape()),
           " does not match its leaf of shape ", shape_str(leaf_->shape));
  if (leaf_->grad) {
    Tensor sum = sum_grads(Tensor(leaf_->grad), g);
    leaf_->grad = sum.impl();
  } else {
    // Own the gradient: it may alias a tensor the caller still holds.
    leaf_->grad = g.clone().impl();
  }
  return {};
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  SG_CHECK(fn_ != nullptr, "autograd: backward through ", name(),
           " a second time; its saved tensors were freed. Pass retain_graph=true to the first "
           "backward() call");
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].defined())
      grads[i] = zeros(outputs[i].shape, Options(outputs[i].dtype, outputs[i].device));
  return fn_(grads);
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const auto& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

namespace {

Edge edge_for(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.impl()->output_nr};
  return {std::make_shared<AccumulateGrad>(t.impl()), 0};
}

}  // namespace

void record(const std::string& name, const std::vector<Tensor>& inputs,
            const std::vector<Tensor>& outputs, FunctionNode::Backward backward) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  for (const auto& t : inputs) node->next_edges.push_back(edge_for(t));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    node->outputs.push_back({out.shape(), out.dtype(), out.device()});
    if (!is_floating(out.dtype())) continue;  // integer outputs (indices) carry no gradient
    out.impl()->requires_grad = true;
    out.impl()->grad_fn = node;
    out.impl()->output_nr = static_cast<int>(i);
  }
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph) {
  NoGradGuard no_grad;
  // Per node: the gradients waiting for it (by output number), how many edges still have to
  // deliver, and whether discovery has reached it. One map, not three: on small graphs the
  // bookkeeping's allocations are most of backward's time.
  struct State {
    std::vector<Tensor> pending;
    int consumers = 0;
    bool seen = false;
  };
  std::unordered_map<Node*, State> state;
  std::vector<std::shared_ptr<Node>> stack;

  auto add_grad = [&](const Edge& e, const Tensor& g) {
    auto& slot = state[e.fn.get()].pending;
    if (slot.size() <= static_cast<size_t>(e.input_nr))
      slot.resize(std::max<size_t>(e.input_nr + 1, std::max<size_t>(1, e.fn->outputs.size())));
    slot[e.input_nr] = slot[e.input_nr].defined() ? sum_grads(slot[e.input_nr], g) : g;
  };

  std::vector<Edge> root_edges;
  root_edges.reserve(roots.size());
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SG_CHECK(r.requires_grad(), "backward: tensor ", describe(r),
             " does not require grad and has no grad_fn");
    root_edges.push_back(edge_for(r));
  }

  // 1. Discover the graph and count, for every node, how many edges point at it.
  for (const auto& e : root_edges) {
    State& s = state[e.fn.get()];
    if (!s.seen) {
      s.seen = true;
      stack.push_back(e.fn);
    }
  }
  while (!stack.empty()) {
    auto node = std::move(stack.back());
    stack.pop_back();
    for (const auto& e : node->next_edges) {
      if (!e.fn) continue;
      State& s = state[e.fn.get()];
      ++s.consumers;
      if (!s.seen) {
        s.seen = true;
        stack.push_back(e.fn);
      }
    }
  }

  // 2. Seed the roots and run every node once all its consumers have delivered.
  std::vector<std::shared_ptr<Node>> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    add_grad(root_edges[i], grads[i]);
  }
  for (const auto& e : root_edges) {
    State& s = state[e.fn.get()];
    if (s.consumers == 0) {
      s.consumers = -1;  // queued
      ready.push_back(e.fn);
    }
  }
  while (!ready.empty()) {
    auto node = std::move(ready.back());
    ready.pop_back();
    std::vector<Tensor> in_grads = std::move(state[node.get()].pending);
    if (in_grads.size() < std::max<size_t>(1, node->outputs.size()))
      in_grads.resize(std::max<size_t>(1, node->outputs.size()));
    std::vector<Tensor> out_grads = node->apply(std::move(in_grads));
    if (!retain_graph) node->release();
    SG_CHECK(out_grads.size() == node->next_edges.size() || out_grads.empty(),
             "autograd: ", node->name(), " returned ", out_grads.size(), " gradients for ",
             node->next_edges.size(), " inputs");
    for (size_t i = 0; i < out_grads.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      if (out_grads[i].defined()) add_grad(e, out_grads[i]);
      if (--state[e.fn.get()].consumers == 0) ready.push_back(e.fn);
    }
  }
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor g = gradient;
  if (!g.defined()) {
    SG_CHECK(numel() == 1, "backward: gradient can be implied only for a one-element tensor; ",
             describe(*this), " needs an explicit gradient");
    g = ones(shape(), Options(dtype(), device()));
  }
  SG_CHECK(g.shape() == shape(), "backward: gradient shape ", shape_str(g.shape()),
           " does not match tensor shape ", shape_str(shape()));
  check_same_dtype("backward", *this, g);
  run_backward({*this}, {g}, retain_graph);
}

}  // namespace stackgrad
