// Grad mode and TapeScope: the per-thread recording state.
#include "parity/autograd/tape.h"

#include <algorithm>

#include "parity/autograd/grad_mode.h"
#include "parity/autograd/node.h"

namespace parity::autograd {

namespace {
thread_local bool t_grad_enabled = true;
thread_local TapeScope* t_innermost_scope = nullptr;
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

TapeScope::TapeScope() : outer_(t_innermost_scope) { t_innermost_scope = this; }

TapeScope::~TapeScope() {
  release();
  t_innermost_scope = outer_;
}

TapeScope* TapeScope::current() { return t_innermost_scope; }

void TapeScope::add_entry(const std::shared_ptr<Node>& node) {
  ++recorded_;
  // Entries whose node died already need no release: drop them now and then,
  // so a long scope holds a list as long as its live entries, not its history.
  if (entries_.size() == entries_.capacity() && entries_.size() >= 64) {
    std::erase_if(entries_, [](const std::weak_ptr<Node>& e) { return e.expired(); });
  }
  entries_.push_back(node);
}

void TapeScope::release() {
  // Newest first: a node's inputs were recorded before it.
  std::vector<std::weak_ptr<Node>> entries = std::move(entries_);
  entries_.clear();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (std::shared_ptr<Node> node = it->lock()) node->release(/*drop_edges=*/true);
  }
}

}  // namespace parity::autograd
