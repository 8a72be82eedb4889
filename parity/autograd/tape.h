// TapeScope: bounds the life of the tape recorded on this thread in a scope.
//
// A graph normally lives as long as the tensors computed from it and loses its
// saved tensors when backward runs. A tensor kept past its step (a loss pushed
// into a history vector, a cached activation) keeps its whole graph alive with
// it. A TapeScope around a training step makes the bound explicit: when it
// ends, every tape entry recorded on this thread inside it (and not inside an
// inner scope) is released, saved tensors and edges, even if tensors still
// point at it. Tensors keep their values; backward through a released entry
// throws a parity::Error saying so.
//
//   for (auto& batch : batches) {
//     autograd::TapeScope tape;   // everything recorded in this step ends here
//     Tensor loss = model(batch);
//     loss.backward();
//     history.push_back(loss);    // its graph no longer grows memory
//   }
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace parity::autograd {

class Node;

class TapeScope {
 public:
  TapeScope();
  ~TapeScope();
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

  // Entries recorded in this scope so far (including ones already freed).
  std::size_t size() const { return recorded_; }
  // Releases now what was recorded so far; the scope stays open.
  void release();

  // Internal: the thread's innermost scope (or null), and how nodes join it.
  static TapeScope* current();
  void add_entry(const std::shared_ptr<Node>& node);

 private:
  std::vector<std::weak_ptr<Node>> entries_;
  std::size_t recorded_ = 0;
  TapeScope* outer_;
};

}  // namespace parity::autograd
