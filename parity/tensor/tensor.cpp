// Tensor metadata, views, copies, host access and the in-place forms.
#include "parity/tensor/tensor.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "parity/tensor/autograd_hook.h"
#include "parity/tensor/backend.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/ops.h"

namespace parity {

namespace {

void check_rank(std::size_t ndim, const char* op) {
  PARITY_CHECK(ndim <= static_cast<std::size_t>(kMaxDims), op, ": a tensor has at most ", kMaxDims,
               " dimensions, got ", ndim);
}

// Replaces one -1 in `shape` by the size that makes numel match.
Shape infer_size(Shape shape, std::int64_t numel, const char* op, const Shape& from) {
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      PARITY_CHECK(infer < 0, op, ": only one dimension can be -1, got ", to_string(shape));
      infer = static_cast<int>(d);
    } else {
      PARITY_CHECK(shape[d] >= 0, op, ": invalid size ", shape[d], " in ", to_string(shape));
      PARITY_CHECK(!__builtin_mul_overflow(known, shape[d], &known), op, ": shape ", to_string(shape),
                   " has more elements than int64 can count");
    }
  }
  if (infer >= 0) {
    PARITY_CHECK(known != 0 && numel % known == 0, op, ": shape ", to_string(shape),
                 " is invalid for a tensor of shape ", to_string(from), " (", numel, " elements)");
    shape[infer] = numel / known;
  } else {
    PARITY_CHECK(known == numel, op, ": shape ", to_string(shape), " (", known,
                 " elements) is invalid for a tensor of shape ", to_string(from), " (", numel,
                 " elements)");
  }
  return shape;
}

// Strides that present (shape, strides) as new_shape without a copy, if any
// exist (the algorithm of PyTorch's computeStride).
std::optional<Strides> view_strides(Shape old_shape, Strides old_strides, const Shape& new_shape) {
  if (numel(old_shape) == 0) return contiguous_strides(new_shape);
  if (old_shape.empty()) {
    old_shape = {1};
    old_strides = {1};
  }
  Strides new_strides(new_shape.size());
  int view_d = static_cast<int>(new_shape.size()) - 1;
  std::int64_t chunk_base_stride = old_strides.back();
  std::int64_t tensor_numel = 1;
  std::int64_t view_numel = 1;
  for (int tensor_d = static_cast<int>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

Tensor with_layout(const Tensor& base, std::int64_t offset, Shape shape, Strides strides) {
  return make_tensor(base.storage(), offset, std::move(shape), std::move(strides), base.dtype());
}

// Records a view or copy method on the tape when its input requires grad
// (Note [Autograd hook] in parity/tensor/autograd_hook.h).
Tensor recorded(Tensor out, const Tensor& in, autograd_hook::OpRecord op) {
  if (in.requires_grad()) {
    op.inputs[0] = &in;
    autograd_hook::record(out, op);
  }
  return out;
}

using autograd_hook::OpKind;

}  // namespace

Tensor make_tensor(Storage storage, std::int64_t offset, Shape shape, Strides strides, DType dtype) {
  check_rank(shape.size(), "make_tensor");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

const TensorImpl& Tensor::checked() const {
  PARITY_CHECK(impl_ != nullptr, "Tensor: this tensor is undefined (default-constructed)");
  return *impl_;
}

std::int64_t Tensor::size(std::int64_t dim) const { return shape()[wrap_dim(dim, this->dim(), "size")]; }
std::int64_t Tensor::stride(std::int64_t dim) const {
  return strides()[wrap_dim(dim, this->dim(), "stride")];
}

void* Tensor::data_ptr() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<std::int64_t>(element_size(t.dtype));
}

template <typename T>
T* Tensor::data() const {
  PARITY_CHECK(dtype() == dtype_v<T>, "Tensor::data<", name(dtype_v<T>), ">: the tensor's dtype is ",
               dtype());
  return static_cast<T*>(data_ptr());
}

// ---- views ----

Tensor Tensor::view(Shape new_shape) const {
  new_shape = infer_size(std::move(new_shape), numel(), "view", shape());
  check_rank(new_shape.size(), "view");
  auto strides = view_strides(shape(), this->strides(), new_shape);
  PARITY_CHECK(strides.has_value(), "view: a tensor of shape ", to_string(shape()), " and strides ",
               to_string(this->strides()), " cannot be viewed as ", to_string(new_shape),
               " without a copy; use reshape()");
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(*strides)), *this,
                  {.kind = OpKind::Reshape, .name = "view"});
}

Tensor Tensor::reshape(Shape new_shape) const {
  new_shape = infer_size(std::move(new_shape), numel(), "reshape", shape());
  check_rank(new_shape.size(), "reshape");
  if (auto strides = view_strides(shape(), this->strides(), new_shape)) {
    return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(*strides)), *this,
                    {.kind = OpKind::Reshape, .name = "reshape"});
  }
  return clone().view(std::move(new_shape));
}

Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  PARITY_CHECK(static_cast<int>(dims.size()) == dim(), "permute: expected ", dim(),
               " dims for a tensor of shape ", to_string(shape()), ", got ", to_string(dims));
  Shape new_shape(dims.size());
  Strides new_strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(dims[i], dim(), "permute");
    PARITY_CHECK(!seen[d], "permute: dim ", dims[i], " repeats in ", to_string(dims));
    seen[d] = true;
    new_shape[i] = shape()[d];
    new_strides[i] = strides()[d];
  }
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Permute, .name = "permute", .attrs = autograd_hook::PermuteAttrs{dims}});
}

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  const int a = wrap_dim(dim0, dim(), "transpose");
  const int b = wrap_dim(dim1, dim(), "transpose");
  Shape new_shape = shape();
  Strides new_strides = strides();
  std::swap(new_shape[a], new_shape[b]);
  std::swap(new_strides[a], new_strides[b]);
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Transpose, .name = "transpose", .attrs = autograd_hook::TransposeAttrs{a, b}});
}

Tensor Tensor::t() const {
  PARITY_CHECK(dim() <= 2, "t: expected a tensor of at most 2 dims, got shape ", to_string(shape()));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) const {
  const int d = wrap_dim(dim, this->dim(), "slice");
  PARITY_CHECK(step > 0, "slice: step must be positive, got ", step);
  const std::int64_t size = shape()[d];
  auto clip = [size](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + size : i, 0, size); };
  start = clip(start);
  end = std::max(clip(end), start);
  Shape new_shape = shape();
  Strides new_strides = strides();
  new_shape[d] = (end - start + step - 1) / step;
  new_strides[d] = strides()[d] * step;
  return recorded(with_layout(*this, offset() + start * strides()[d], std::move(new_shape), std::move(new_strides)),
                  *this, {.kind = OpKind::Slice, .name = "slice", .attrs = autograd_hook::SliceAttrs{d, start, end, step}});
}

Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  const int d = wrap_dim(dim, this->dim(), "narrow");
  const std::int64_t size = shape()[d];
  if (start < 0) start += size;
  PARITY_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: start ", start,
               " and length ", length, " are out of range for dim ", dim, " of size ", size);
  return slice(d, start, start + length);
}

Tensor Tensor::select(std::int64_t dim, std::int64_t index) const {
  const int d = wrap_dim(dim, this->dim(), "select");
  PARITY_CHECK(this->dim() > 0, "select: cannot select on a 0-d tensor");
  const std::int64_t size = shape()[d];
  PARITY_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ",
               dim, " of size ", size, " (shape ", to_string(shape()), ")");
  if (index < 0) index += size;
  Shape new_shape = shape();
  Strides new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  return recorded(with_layout(*this, offset() + index * strides()[d], std::move(new_shape), std::move(new_strides)),
                  *this, {.kind = OpKind::Select, .name = "select", .attrs = autograd_hook::SelectAttrs{d, index}});
}

Tensor Tensor::expand(Shape new_shape) const {
  check_rank(new_shape.size(), "expand");
  const int lead = static_cast<int>(new_shape.size()) - dim();
  PARITY_CHECK(lead >= 0, "expand: cannot expand shape ", to_string(shape()), " to ",
               to_string(new_shape), " (fewer dims)");
  Strides new_strides(new_shape.size(), 0);
  for (int i = 0; i < static_cast<int>(new_shape.size()); ++i) {
    if (i < lead) {
      PARITY_CHECK(new_shape[i] >= 0, "expand: a new leading dim cannot be -1 in ", to_string(new_shape));
      continue;
    }
    const std::int64_t old = shape()[i - lead];
    if (new_shape[i] == -1) new_shape[i] = old;
    PARITY_CHECK(old == new_shape[i] || old == 1, "expand: cannot expand shape ", to_string(shape()),
                 " to ", to_string(new_shape), " (dim ", i, ": ", old, " is neither 1 nor ",
                 new_shape[i], ")");
    new_strides[i] = old == new_shape[i] ? strides()[i - lead] : 0;
  }
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Expand, .name = "expand"});
}

Tensor Tensor::squeeze() const {
  Shape new_shape;
  Strides new_strides;
  for (int d = 0; d < dim(); ++d) {
    if (shape()[d] != 1) {
      new_shape.push_back(shape()[d]);
      new_strides.push_back(strides()[d]);
    }
  }
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Reshape, .name = "squeeze"});
}

Tensor Tensor::squeeze(std::int64_t dim) const {
  if (this->dim() == 0) return *this;
  const int d = wrap_dim(dim, this->dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape new_shape = shape();
  Strides new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Reshape, .name = "squeeze"});
}

Tensor Tensor::unsqueeze(std::int64_t dim) const {
  const int d = wrap_dim(dim, this->dim() + 1, "unsqueeze");
  Shape new_shape = shape();
  Strides new_strides = strides();
  const std::int64_t stride = d < this->dim() ? strides()[d] * shape()[d] : 1;
  new_shape.insert(new_shape.begin() + d, 1);
  new_strides.insert(new_strides.begin() + d, stride);
  check_rank(new_shape.size(), "unsqueeze");
  return recorded(with_layout(*this, offset(), std::move(new_shape), std::move(new_strides)), *this,
                  {.kind = OpKind::Reshape, .name = "unsqueeze"});
}

Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int s = wrap_dim(start_dim, dim(), "flatten");
  const int e = wrap_dim(end_dim, dim(), "flatten");
  PARITY_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape new_shape(shape().begin(), shape().begin() + s);
  std::int64_t merged = 1;
  for (int d = s; d <= e; ++d) merged *= shape()[d];
  new_shape.push_back(merged);
  new_shape.insert(new_shape.end(), shape().begin() + e + 1, shape().end());
  return reshape(std::move(new_shape));
}

// ---- copies ----

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), {.dtype = dtype(), .device = device()});
  out.copy_(autograd_hook::raw(*this));
  return recorded(out, *this, {.kind = OpKind::Clone, .name = "clone"});
}

Tensor Tensor::to(DType dtype) const { return dtype == this->dtype() ? *this : cast(*this, dtype); }

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  backend_for(device, "to");  // an unavailable device is named in an error about `to`, not `empty`
  Tensor out = empty(shape(), {.dtype = dtype(), .device = device});
  out.copy_(autograd_hook::raw(*this));
  return recorded(out, *this, {.kind = OpKind::ToDevice, .name = "to"});
}

// ---- host access ----

template <typename T>
std::vector<T> Tensor::to_vector() const {
  if (requires_grad()) return autograd_hook::raw(*this).to_vector<T>();  // reading values records nothing
  if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> packs bits: go through bytes
    // To bool first (x != 0): a direct uint8 cast would truncate 0.5 or wrap 256 to 0.
    const std::vector<std::uint8_t> bytes = to(kBool).to(kUInt8).to_vector<std::uint8_t>();
    return std::vector<bool>(bytes.begin(), bytes.end());
  }
  Tensor host = to(dtype_v<T>).contiguous();
  std::vector<T> values(static_cast<std::size_t>(host.numel()));
  if (values.empty()) return values;
  if constexpr (std::is_same_v<T, bool>) return values;  // handled above
  else if (host.device().is_cpu()) {
    std::memcpy(values.data(), host.data_ptr(), values.size() * sizeof(T));
  } else {
    backend_for(host.device(), "to_vector")
        .copy_to_host(values.data(), host.data_ptr(), values.size() * sizeof(T), host.device().index);
  }
  return values;
}

template <typename T>
T Tensor::item() const {
  PARITY_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", to_string(shape()));
  return to_vector<T>()[0];
}

#define PARITY_INSTANTIATE_HOST_ACCESS(T)           \
  template T* Tensor::data<T>() const;              \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
PARITY_INSTANTIATE_HOST_ACCESS(float)
PARITY_INSTANTIATE_HOST_ACCESS(double)
PARITY_INSTANTIATE_HOST_ACCESS(std::int32_t)
PARITY_INSTANTIATE_HOST_ACCESS(std::int64_t)
PARITY_INSTANTIATE_HOST_ACCESS(std::uint8_t)
PARITY_INSTANTIATE_HOST_ACCESS(bool)
#undef PARITY_INSTANTIATE_HOST_ACCESS

// Tensor::requires_grad_ and the other autograd methods are defined in autograd/.

}  // namespace parity
