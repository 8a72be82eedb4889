// Tensor: a cheap, ref-counted handle to a TensorImpl (storage, offset, shape,
// strides, dtype). Copying a Tensor aliases it; views share the Storage.
//
// Math lives in free functions (parity/tensor/ops.h); this class holds the metadata,
// the views, host access and the in-place forms.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

#include "parity/tensor/device.h"
#include "parity/tensor/dtype.h"
#include "parity/tensor/scalar.h"
#include "parity/tensor/shape.h"
#include "parity/tensor/storage.h"

namespace parity {

namespace autograd {
struct AutogradMeta;  // defined by the autograd layer, created lazily
class Node;           // a tape entry (parity/autograd/node.h)
}

struct TensorImpl {
  Storage storage;
  std::int64_t offset = 0;  // in elements
  Shape shape;
  Strides strides;
  DType dtype = kFloat32;
  bool requires_grad = false;
  std::shared_ptr<autograd::AutogradMeta> autograd;  // null for tensors that need no grad
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing; most operations throw on it
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }

  // ---- metadata ----
  const Shape& shape() const { return checked().shape; }
  const Strides& strides() const { return checked().strides; }
  std::int64_t size(std::int64_t dim) const;
  std::int64_t stride(std::int64_t dim) const;
  int dim() const { return static_cast<int>(checked().shape.size()); }
  std::int64_t numel() const { return parity::numel(checked().shape); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * element_size(dtype()); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  std::int64_t offset() const { return checked().offset; }
  bool is_contiguous() const { return parity::is_contiguous(shape(), strides()); }
  const Storage& storage() const { return checked().storage; }
  // Address of the first element (device memory for CUDA tensors).
  void* data_ptr() const;
  // Typed address; throws unless T matches dtype().
  template <typename T> T* data() const;
  // Same handle (not just equal values or shared storage).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- views (no copy) ----
  Tensor view(Shape shape) const;        // throws when the strides don't allow it; one dim may be -1
  Tensor reshape(Shape shape) const;     // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;                      // transpose of a tensor of at most 2 dims
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor expand(Shape shape) const;      // sizes of -1 keep the dim; new dims go in front
  Tensor broadcast_to(const Shape& shape) const { return expand(shape); }
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // this tensor itself when already contiguous
  Tensor clone() const;       // always a new contiguous buffer
  Tensor to(Device device) const;  // this tensor itself when already there
  Tensor to(DType dtype) const;    // this tensor itself when already of that dtype

  // ---- host access (synchronizes with the device when needed) ----
  template <typename T> T item() const;                 // one-element tensor, converted to T
  template <typename T> std::vector<T> to_vector() const;  // all elements in row-major order, converted

  // ---- in-place (bump the storage's version) ----
  Tensor& fill_(Scalar value);
  Tensor& zero_() { return fill_(0); }
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape; casts dtype; crosses devices
  Tensor& add_(const Tensor& other);
  Tensor& add_(Scalar other);
  Tensor& sub_(const Tensor& other);
  Tensor& sub_(Scalar other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(Scalar other);
  Tensor& pow_(Scalar exponent);
  Tensor& clamp_(Scalar lo, Scalar hi);
  Tensor& neg_();
  Tensor& abs_();
  Tensor& exp_();
  Tensor& log_();
  Tensor& sqrt_();
  Tensor& relu_();

  // ---- autograd (defined in autograd/; see docs/AUTOGRAD.md) ----
  bool requires_grad() const { return checked().requires_grad; }
  // Makes a leaf require grad (floating dtypes only), or stop requiring it.
  Tensor& requires_grad_(bool enabled = true);
  // Accumulated gradient: of a leaf, or of a non-leaf after retain_grad(); else undefined.
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;  // an undefined tensor clears it
  // Reverse-mode pass from this tensor: `gradient` may be omitted for one-element tensors.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  void retain_grad() const;     // keep this non-leaf's gradient in grad()
  bool retains_grad() const;
  bool is_leaf() const;         // true unless produced by a recorded op
  Tensor detach() const;        // same storage, outside the graph
  std::shared_ptr<autograd::Node> grad_fn() const;  // null for leaves
  // The storage's version counter: bumped by every in-place op on any of its views.
  std::uint64_t version() const { return checked().storage->version(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

// NumPy-like printing, truncated for large tensors.
std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// Builds a tensor over existing storage (views, backends).
Tensor make_tensor(Storage storage, std::int64_t offset, Shape shape, Strides strides, DType dtype);

}  // namespace parity
