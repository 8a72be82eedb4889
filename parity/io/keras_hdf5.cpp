// Keras 2 and Keras 3 HDF5 weight files through libhdf5's C API (parity/io/keras_weights.h).
// Built when PARITY_WITH_HDF5; parity/io/no_hdf5.cpp stands in otherwise.
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "parity/io/atomic_file.h"
#include "parity/io/hostile_text.h"
#include "parity/io/keras_weights.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"

namespace parity::io {

namespace {

// Who does what to which file, for every error message:
// "load_keras2_weights: w.h5: group 'conv2d_1' has no 'weight_names' attribute".
using Ctx = FileSource;
#define K_CHECK PARITY_FILE_CHECK
#define K_FAIL PARITY_FILE_FAIL

// At most 64 characters of a name from the file, the unprintable ones as \xNN, in quotes.
std::string q(std::string_view text) { return "'" + printable_excerpt(text, 64) + "'"; }

// While a reader or writer runs, HDF5 prints nothing (its default prints the
// error stack to stderr); what failed goes into the parity::Error instead.
// The library is thread-safe (Debian builds it so): the setting is per thread.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Set by the external-link callback, which refuses every external link.
thread_local std::string refused_link;

herr_t refuse_external_link(const char* /*parent_file*/, const char* /*parent_group*/, const char* child_file,
                            const char* child_object, unsigned* /*flags*/, hid_t /*fapl*/, void* /*data*/) {
  refused_link = std::string(child_file ? child_file : "?") + ":" + (child_object ? child_object : "?");
  return -1;
}

// HDF5's reason for the last failure ("unable to open file (file signature not
// found)"), from its error stack, which it then clears.
std::string hdf5_reason() {
  std::vector<std::string> descriptions;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc && *e->desc) static_cast<std::vector<std::string>*>(data)->push_back(e->desc);
        return 0;
      },
      &descriptions);
  H5Eclear2(H5E_DEFAULT);
  std::string reason;
  if (!refused_link.empty()) {
    reason = "an external link to " + q(refused_link) + ", which Parity does not follow; ";
    refused_link.clear();
  }
  if (descriptions.empty()) return reason + "HDF5 gave no reason";
  reason += "HDF5: " + descriptions.front();
  if (descriptions.size() > 1) reason += " (" + descriptions.back() + ")";
  return reason;
}

// An HDF5 identifier closed by its own close function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    reset();
    id_ = std::exchange(o.id_, -1);
    close_ = o.close_;
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; false when HDF5 reports an error (a file that could not be flushed).
  bool close() {
    const bool ok = id_ < 0 || close_(id_) >= 0;
    id_ = -1;
    return ok;
  }

 private:
  void reset() {
    if (id_ >= 0) close_(id_);
    id_ = -1;
  }
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// id, or a parity::Error saying what could not be done and HDF5's reason.
template <typename... Args>
Handle checked(hid_t id, herr_t (*close)(hid_t), const Ctx& ctx, const Args&... what) {
  if (id < 0) K_FAIL(ctx, detail::concat(what...), ": ", hdf5_reason());
  return Handle(id, close);
}

template <typename... Args>
void check_status(herr_t status, const Ctx& ctx, const Args&... what) {
  if (status < 0) K_FAIL(ctx, detail::concat(what...), ": ", hdf5_reason());
}

// Link and dataset access that refuse external links, for every open by name.
struct AccessLists {
  Handle group, dataset;
  explicit AccessLists(const Ctx& ctx) {
    group = checked(H5Pcreate(H5P_GROUP_ACCESS), H5Pclose, ctx, "cannot create a property list");
    dataset = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, ctx, "cannot create a property list");
    check_status(H5Pset_elink_cb(group.get(), refuse_external_link, nullptr), ctx, "H5Pset_elink_cb");
    check_status(H5Pset_elink_cb(dataset.get(), refuse_external_link, nullptr), ctx, "H5Pset_elink_cb");
  }
};

std::uint64_t file_size_of(const Ctx& ctx) {
  std::error_code error;
  const auto status = std::filesystem::status(ctx.name, error);
  PARITY_CHECK(!error && std::filesystem::exists(status), ctx.op, ": cannot open ", ctx.name, ": no such file");
  PARITY_CHECK(std::filesystem::is_regular_file(status), ctx.op, ": cannot open ", ctx.name, ": not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(ctx.name, error);
  PARITY_CHECK(!error, ctx.op, ": cannot open ", ctx.name, ": ", error.message());
  return size;
}

Handle open_file(const Ctx& ctx) {
  return checked(H5Fopen(ctx.name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, ctx, "not a readable HDF5 file");
}

// A weights file opened for reading: its size (what its headers may claim is
// bounded by it), HDF5's error printing silenced while it is open, the access
// lists that refuse external links, the file and its root group.
struct ReadFile {
  explicit ReadFile(const Ctx& ctx)
      : size(file_size_of(ctx)),
        access(ctx),
        file(open_file(ctx)),
        root(checked(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose, ctx, "cannot open the root group")) {}
  std::uint64_t size;
  QuietErrors quiet;
  AccessLists access;
  Handle file;
  Handle root;
};

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "an integer";
    case H5T_FLOAT: return "a float";
    case H5T_TIME: return "a time";
    case H5T_STRING: return "a string";
    case H5T_BITFIELD: return "a bitfield";
    case H5T_OPAQUE: return "an opaque";
    case H5T_COMPOUND: return "a compound";
    case H5T_REFERENCE: return "a reference";
    case H5T_ENUM: return "an enum";
    case H5T_VLEN: return "a variable-length";
    case H5T_ARRAY: return "an array";
    default: return "an unknown";
  }
}

bool has_attribute(hid_t object, const char* name, const Ctx& ctx, const std::string& where) {
  const htri_t exists = H5Aexists(object, name);
  check_status(exists, ctx, "cannot look for attribute '", name, "' on ", where);
  return exists > 0;
}

// The strings of attribute `name` of `object` (a scalar string is one string,
// a 1-D array of strings a list), fixed- or variable-length, or nullopt when
// the object has no such attribute. A list with no element may have any type
// (Keras 2 writes an empty weight_names as an empty float64 array).
std::optional<std::vector<std::string>> read_strings(hid_t object, const char* name, const std::string& where,
                                                     std::uint64_t file_size, const Ctx& ctx) {
  if (!has_attribute(object, name, ctx, where)) return std::nullopt;
  const std::string what = detail::concat("attribute '", name, "' of ", where);
  const Handle attr = checked(H5Aopen(object, name, H5P_DEFAULT), H5Aclose, ctx, "cannot open ", what);
  const Handle space = checked(H5Aget_space(attr.get()), H5Sclose, ctx, "cannot read the dataspace of ", what);
  const Handle type = checked(H5Aget_type(attr.get()), H5Tclose, ctx, "cannot read the type of ", what);
  std::uint64_t count = 0;
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: count = 1; break;
    case H5S_NULL: count = 0; break;
    case H5S_SIMPLE: {
      K_CHECK(ctx, H5Sget_simple_extent_ndims(space.get()) == 1, what, " is a ",
              H5Sget_simple_extent_ndims(space.get()), "-D array (expected a string or a list of strings)");
      hsize_t dims[1] = {0};
      H5Sget_simple_extent_dims(space.get(), dims, nullptr);
      count = dims[0];
      break;
    }
    default: K_FAIL(ctx, what, " has an invalid dataspace");
  }
  if (count == 0) return std::vector<std::string>{};
  const H5T_class_t type_class = H5Tget_class(type.get());
  K_CHECK(ctx, type_class == H5T_STRING, what, " is ", class_name(type_class),
          " attribute (expected a string or a list of strings)");
  const htri_t variable = H5Tis_variable_str(type.get());
  check_status(variable, ctx, "cannot read the type of ", what);
  const std::size_t size = H5Tget_size(type.get());
  // Every element takes at least one byte of the file (a fixed-length one, its
  // size): bounds the memory asked for by a lying dataspace.
  K_CHECK(ctx, count <= file_size && (variable > 0 || count <= file_size / std::max<std::size_t>(size, 1)), what,
          " claims ", count, " strings, more than the file of ", file_size, " bytes can hold");
  const Handle memory = checked(H5Tcopy(H5T_C_S1), H5Tclose, ctx, "H5Tcopy");
  check_status(H5Tset_cset(memory.get(), H5Tget_cset(type.get())), ctx, "H5Tset_cset");
  std::vector<std::string> out;
  if (variable > 0) {
    check_status(H5Tset_size(memory.get(), H5T_VARIABLE), ctx, "H5Tset_size");
    std::vector<char*> strings(count, nullptr);
    check_status(H5Aread(attr.get(), memory.get(), strings.data()), ctx, "cannot read ", what);
    for (char* s : strings) {
      out.emplace_back(s ? s : "");
      if (s) H5free_memory(s);
    }
  } else {
    K_CHECK(ctx, size > 0, what, " has strings of length 0");
    check_status(H5Tset_size(memory.get(), size), ctx, "H5Tset_size");
    check_status(H5Tset_strpad(memory.get(), H5T_STR_NULLPAD), ctx, "H5Tset_strpad");
    std::vector<char> bytes(count * size, '\0');
    check_status(H5Aread(attr.get(), memory.get(), bytes.data()), ctx, "cannot read ", what);
    for (std::uint64_t i = 0; i < count; ++i) {
      const char* s = bytes.data() + i * size;
      out.emplace_back(s, std::find(s, s + size, '\0'));
    }
  }
  return out;
}

// An optional attribute holding one string ("backend", "keras_version").
std::string read_string(hid_t object, const char* name, const std::string& where, std::uint64_t file_size,
                        const Ctx& ctx) {
  const auto strings = read_strings(object, name, where, file_size, ctx);
  if (!strings) return "";
  K_CHECK(ctx, strings->size() == 1, "attribute '", name, "' of ", where, " holds ", strings->size(),
          " strings (expected one)");
  return strings->front();
}

// Deflate, the strongest expansion of HDF5's standard filters, turns a byte into at most 1032.
constexpr std::uint64_t kMaxExpansion = 1032;

// Dataset `name` of `group` as a CPU tensor: IEEE float32 or float64, at most
// 8 dims, every size checked against what the file stores before allocating.
Tensor read_dataset(hid_t group, const std::string& name, const std::string& where, std::uint64_t file_size,
                    const AccessLists& access, const Ctx& ctx) {
  const std::string what = "dataset " + q(name) + " of " + where;
  const Handle dataset =
      checked(H5Dopen2(group, name.c_str(), access.dataset.get()), H5Dclose, ctx, "cannot open ", what);
  const Handle type = checked(H5Dget_type(dataset.get()), H5Tclose, ctx, "cannot read the type of ", what);
  DType dtype = kFloat32;
  hid_t native = H5T_NATIVE_FLOAT;
  const auto is = [&](hid_t t) { return H5Tequal(type.get(), t) > 0; };
  if (is(H5T_IEEE_F32LE) || is(H5T_IEEE_F32BE)) {
    dtype = kFloat32;
    native = H5T_NATIVE_FLOAT;
  } else if (is(H5T_IEEE_F64LE) || is(H5T_IEEE_F64BE)) {
    dtype = kFloat64;
    native = H5T_NATIVE_DOUBLE;
  } else {
    const H5T_class_t type_class = H5Tget_class(type.get());
    K_FAIL(ctx, what, " has type ", class_name(type_class), " of ", H5Tget_size(type.get()), " bytes",
           type_class == H5T_FLOAT ? " (not IEEE float32 or float64)" : "", " (expected float32 or float64)");
  }

  const Handle space = checked(H5Dget_space(dataset.get()), H5Sclose, ctx, "cannot read the dataspace of ", what);
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  K_CHECK(ctx, space_class == H5S_SCALAR || space_class == H5S_SIMPLE, what,
          space_class == H5S_NULL ? " has a null dataspace (no data)" : " has an invalid dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  K_CHECK(ctx, rank >= 0 && rank <= kMaxDims, what, " has ", rank, " dimensions (a tensor has at most ", kMaxDims,
          ")");
  hsize_t dims[kMaxDims] = {};
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  Shape shape;
  std::uint64_t bytes = element_size(dtype);
  bool empty_tensor = false;
  for (int d = 0; d < rank; ++d) {
    K_CHECK(ctx, dims[d] <= kMax, what, " has dimension ", dims[d], ", which does not fit in int64");
    shape.push_back(static_cast<std::int64_t>(dims[d]));
    if (dims[d] == 0) {
      empty_tensor = true;
      continue;
    }
    K_CHECK(ctx, bytes <= kMax / dims[d], what, " of shape ", to_string(shape), "... is too large (its size in "
            "bytes overflows int64)");
    bytes *= dims[d];
  }
  if (empty_tensor) bytes = 0;

  const Handle create = checked(H5Dget_create_plist(dataset.get()), H5Pclose, ctx, "cannot read the layout of ", what);
  const int external = H5Pget_external_count(create.get());
  K_CHECK(ctx, external == 0, what, " keeps its data in ", external, " external files (Parity reads only what the "
          "file holds)");
  const H5D_layout_t layout = H5Pget_layout(create.get());
  K_CHECK(ctx, layout == H5D_CONTIGUOUS || layout == H5D_COMPACT || layout == H5D_CHUNKED, what,
          layout == H5D_VIRTUAL ? " is a virtual dataset (its data lives in other files)" : " has an unknown layout");
  if (bytes > 0) {
    const hsize_t stored = H5Dget_storage_size(dataset.get());
    const std::string needs = detail::concat(" is ", to_string(shape), " ", dtype, ", ", bytes, " bytes, ");
    if (layout == H5D_CHUNKED && H5Pget_nfilters(create.get()) > 0) {
      K_CHECK(ctx, stored > 0 && bytes / kMaxExpansion <= stored, what, needs, "but the file stores ", stored,
              " compressed bytes for it (more than any HDF5 filter expands)");
    } else {
      K_CHECK(ctx, bytes <= file_size, what, needs, "more than the file of ", file_size, " bytes holds");
      K_CHECK(ctx, layout == H5D_CHUNKED || stored == bytes, what, needs, "but the file stores ", stored,
              " bytes for it (never written, or a damaged file)");
    }
  }
  Tensor out = empty(shape, {.dtype = dtype});
  if (bytes > 0) {
    check_status(H5Dread(dataset.get(), native, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()), ctx, "cannot read ",
                 what);
  }
  return out;
}

bool has_link(hid_t group, const char* name, const Ctx& ctx, const std::string& where) {
  const htri_t exists = H5Lexists(group, name, H5P_DEFAULT);
  check_status(exists, ctx, "cannot look for '", name, "' in ", where);
  return exists > 0;
}

// The names of a group's links, sorted by name (HDF5's name index).
std::vector<std::string> link_names(hid_t group, const std::string& where, const Ctx& ctx) {
  H5G_info_t info;
  check_status(H5Gget_info(group, &info), ctx, "cannot list ", where);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check_status(static_cast<herr_t>(length < 0 ? -1 : 0), ctx, "cannot list ", where);
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

// What a link of `group` names: H5I_GROUP, H5I_DATASET, ...; H5I_BADID for a
// dangling link. An external link is an error (Parity reads one file).
H5I_type_t object_type(hid_t group, const std::string& name, const AccessLists& access, const std::string& where,
                       const Ctx& ctx) {
  H5L_info_t info;
  check_status(H5Lget_info(group, name.c_str(), &info, H5P_DEFAULT), ctx, "cannot read link ", q(name), " of ",
               where);
  K_CHECK(ctx, info.type != H5L_TYPE_EXTERNAL, q(name), " in ", where,
          " is an external link, which Parity does not follow");
  const hid_t object = H5Oopen(group, name.c_str(), access.group.get());
  if (object < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  const H5I_type_t type = H5Iget_type(object);
  H5Oclose(object);
  return type;
}

// ---- Keras 3 ----

struct Keras3Walk {
  const Ctx& ctx;
  const AccessLists& access;
  std::uint64_t file_size;
  std::vector<KerasLayerWeights>& layers;
  std::size_t visited = 0;

  static constexpr int kMaxDepth = 16;
  static constexpr std::size_t kMaxLayers = 1'000'000;

  // The layer (or any object Keras saved) at `group`, named `path`: its
  // vars/0, vars/1, ..., then what it holds (a nested model's `layers`, a
  // layer's sublayers), depth first, by name.
  void visit(hid_t group, const std::string& path, int depth) {
    K_CHECK(ctx, depth <= kMaxDepth, "groups nested deeper than ", kMaxDepth, " at ", q(path),
            " (a cycle of hard links?)");
    K_CHECK(ctx, ++visited <= kMaxLayers, "more than ", kMaxLayers, " groups under 'layers'");
    const std::string where = "group " + q("layers/" + path);
    KerasLayerWeights layer;
    layer.name = path;
    if (has_link(group, "vars", ctx, where)) {
      const Handle vars =
          checked(H5Gopen2(group, "vars", access.group.get()), H5Gclose, ctx, "cannot open the vars of ", where);
      const std::string vars_where = "group " + q("layers/" + path + "/vars");
      const std::vector<std::string> names = link_names(vars.get(), vars_where, ctx);
      // Keras names a layer's variables 0, 1, ...: all of them, by number.
      std::vector<std::uint64_t> numbers;
      for (const std::string& n : names) {
        const bool digits = !n.empty() && n.size() <= 9 && std::all_of(n.begin(), n.end(), [](char c) {
          return c >= '0' && c <= '9';
        }) && (n == "0" || n[0] != '0');
        K_CHECK(ctx, digits, vars_where, " holds ", q(n), " (Keras 3 names variables 0, 1, 2, ...)");
        numbers.push_back(std::stoull(n));
      }
      std::sort(numbers.begin(), numbers.end());
      for (std::size_t i = 0; i < numbers.size(); ++i) {
        K_CHECK(ctx, numbers[i] == i, vars_where, " has no variable ", i, " (it has ", numbers.size(),
                " variables, numbered up to ", numbers.back(), ")");
      }
      for (std::size_t i = 0; i < numbers.size(); ++i) {
        const std::string n = std::to_string(i);
        layer.weight_names.push_back(n);
        layer.weights.push_back(read_dataset(vars.get(), n, vars_where, file_size, access, ctx));
      }
    }
    layers.push_back(std::move(layer));
    for (const std::string& child : link_names(group, where, ctx)) {
      if (child == "vars") continue;
      if (object_type(group, child, access, where, ctx) != H5I_GROUP) continue;  // Keras writes groups only
      const Handle g = checked(H5Gopen2(group, child.c_str(), access.group.get()), H5Gclose, ctx, "cannot open ",
                               q(child), " in ", where);
      if (child == "layers") {
        visit_all(g.get(), path + "/layers/", depth + 1);
      } else {
        visit(g.get(), path + "/" + child, depth + 1);
      }
    }
  }

  void visit_all(hid_t layers_group, const std::string& prefix, int depth) {
    const std::string where = "group " + q("layers/" + prefix);
    for (const std::string& name : link_names(layers_group, where, ctx)) {
      if (object_type(layers_group, name, access, where, ctx) != H5I_GROUP) continue;
      const Handle g = checked(H5Gopen2(layers_group, name.c_str(), access.group.get()), H5Gclose, ctx,
                               "cannot open layer ", q(prefix + name));
      visit(g.get(), prefix + name, depth);
    }
  }
};

// ---- writing ----

// A fixed-length, null-padded ASCII string type of `size` bytes (numpy's 'S').
Handle fixed_string_type(std::size_t size, const Ctx& ctx) {
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, ctx, "H5Tcopy");
  check_status(H5Tset_size(type.get(), std::max<std::size_t>(size, 1)), ctx, "H5Tset_size");
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), ctx, "H5Tset_strpad");
  return type;
}

// Attribute `name` of `object`: one string (scalar) or a list (1-D), as h5py
// wrote Keras' byte strings; an empty list as Keras' [] (an empty float64 array).
void write_strings(hid_t object, const char* name, const std::vector<std::string>& strings, bool scalar,
                   const Ctx& ctx) {
  if (!scalar && strings.empty()) {
    const hsize_t dims[1] = {0};
    const Handle space = checked(H5Screate_simple(1, dims, nullptr), H5Sclose, ctx, "H5Screate_simple");
    const Handle attr = checked(H5Acreate2(object, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                H5Aclose, ctx, "cannot create attribute '", name, "'");
    const double none = 0;
    check_status(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &none), ctx, "cannot write attribute '", name, "'");
    return;
  }
  std::size_t size = 1;
  for (const std::string& s : strings) size = std::max(size, s.size());
  const Handle type = fixed_string_type(size, ctx);
  const hsize_t dims[1] = {strings.size()};
  const Handle space = checked(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr), H5Sclose, ctx,
                               "cannot create a dataspace");
  const Handle attr = checked(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                              ctx, "cannot create attribute '", name, "'");
  std::vector<char> bytes(strings.size() * size, '\0');
  for (std::size_t i = 0; i < strings.size(); ++i) std::memcpy(bytes.data() + i * size, strings[i].data(), strings[i].size());
  check_status(H5Awrite(attr.get(), type.get(), bytes.data()), ctx, "cannot write attribute '", name, "'");
}

// A name HDF5 stores as given: no NUL, and for a layer no '/'; a weight's
// path ("conv2d_1/kernel:0") has no empty, "." or leading/trailing component.
void check_name(const std::string& name, bool path, const Ctx& ctx, const std::string& what) {
  K_CHECK(ctx, !name.empty(), what, " is empty");
  K_CHECK(ctx, name.find('\0') == std::string::npos, what, " ", q(name), " contains a NUL byte");
  if (!path) {
    K_CHECK(ctx, name.find('/') == std::string::npos && name != ".", what, " ", q(name),
            " contains '/' or is '.' (HDF5 would read it as a path)");
    return;
  }
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view part(name.data() + begin, end - begin);
    K_CHECK(ctx, !part.empty() && part != ".", what, " ", q(name), " has an empty or '.' path component");
    if (end == name.size()) break;
    begin = end + 1;
  }
}

}  // namespace

bool have_hdf5() { return true; }

KerasWeights load_keras2_weights(const std::string& path) {
  const Ctx ctx{"load_keras2_weights", path};
  ReadFile f(ctx);
  Handle& root = f.root;  // the weights' group: the root, or model_weights below it
  std::string root_where = "the root group";
  // Like Keras 2's load_weights: a whole-model file (model.save) keeps them in 'model_weights'.
  if (!has_attribute(root.get(), "layer_names", ctx, root_where) &&
      has_link(root.get(), "model_weights", ctx, root_where) &&
      object_type(root.get(), "model_weights", f.access, root_where, ctx) == H5I_GROUP) {
    root = checked(H5Gopen2(root.get(), "model_weights", f.access.group.get()), H5Gclose, ctx,
                   "cannot open group 'model_weights'");
    root_where = "group 'model_weights'";
  }
  const auto layer_names = read_strings(root.get(), "layer_names", root_where, f.size, ctx);
  if (!layer_names) {
    const bool keras3 = has_link(root.get(), "layers", ctx, root_where);
    K_FAIL(ctx, "no 'layer_names' attribute on ", root_where, ": not a Keras 2 save_weights file",
           keras3 ? " (it has a 'layers' group, as Keras 3's .weights.h5 files do: load_keras3_weights reads those)"
                  : "");
  }
  KerasWeights out;
  out.format = KerasFormat::Keras2;
  out.backend = read_string(root.get(), "backend", root_where, f.size, ctx);
  out.keras_version = read_string(root.get(), "keras_version", root_where, f.size, ctx);
  std::set<std::string> seen;
  for (const std::string& name : *layer_names) {
    K_CHECK(ctx, !name.empty(), "layer_names holds an empty name");
    K_CHECK(ctx, seen.insert(name).second, "layer ", q(name), " appears twice in layer_names");
  }
  for (const std::string& name : *layer_names) {
    const std::string where = "group " + q(name);
    const Handle group = checked(H5Gopen2(root.get(), name.c_str(), f.access.group.get()), H5Gclose, ctx, "layer ",
                                 q(name), " is in layer_names, but there is no such group");
    const auto weight_names = read_strings(group.get(), "weight_names", where, f.size, ctx);
    K_CHECK(ctx, weight_names.has_value(), where, " has no 'weight_names' attribute");
    KerasLayerWeights layer;
    layer.name = name;
    layer.weight_names = *weight_names;
    std::set<std::string> names;
    for (const std::string& weight : *weight_names) {
      K_CHECK(ctx, !weight.empty(), "weight_names of ", where, " holds an empty name");
      K_CHECK(ctx, names.insert(weight).second, "weight ", q(weight), " appears twice in weight_names of ", where);
      layer.weights.push_back(read_dataset(group.get(), weight, where, f.size, f.access, ctx));
    }
    out.layers.push_back(std::move(layer));
  }
  return out;
}

KerasWeights load_keras3_weights(const std::string& path) {
  const Ctx ctx{"load_keras3_weights", path};
  ReadFile f(ctx);
  const Handle& root = f.root;
  if (!has_link(root.get(), "layers", ctx, "the root group") ||
      object_type(root.get(), "layers", f.access, "the root group", ctx) != H5I_GROUP) {
    const bool keras2 = has_attribute(root.get(), "layer_names", ctx, "the root group");
    K_FAIL(ctx, "no 'layers' group: not a Keras 3 .weights.h5 file",
           keras2 ? " (it has a 'layer_names' attribute, as Keras 2's save_weights files do: load_keras2_weights "
                    "reads those)"
                  : "");
  }
  const Handle layers =
      checked(H5Gopen2(root.get(), "layers", f.access.group.get()), H5Gclose, ctx, "cannot open group 'layers'");
  KerasWeights out;
  out.format = KerasFormat::Keras3;
  Keras3Walk walk{ctx, f.access, f.size, out.layers};
  walk.visit_all(layers.get(), "", 0);
  return out;
}

void save_keras2_weights(const std::string& path, const KerasWeights& weights) {
  const Ctx ctx{"save_keras2_weights", path};
  K_CHECK(ctx, weights.format == KerasFormat::Keras2, "the weights are in Keras 3's format (load_keras3_weights); "
          "only Keras 2's is written");
  K_CHECK(ctx, !weights.keras_version.empty(), "keras_version is empty: Keras 2 would read the file as Keras 1's");
  std::set<std::string> layer_names;
  std::vector<std::string> names;
  for (const KerasLayerWeights& layer : weights.layers) {
    check_name(layer.name, false, ctx, "a layer name");
    K_CHECK(ctx, layer_names.insert(layer.name).second, "layer ", q(layer.name), " appears twice");
    names.push_back(layer.name);
    K_CHECK(ctx, layer.weight_names.size() == layer.weights.size(), "layer ", q(layer.name), " has ",
            layer.weight_names.size(), " weight names and ", layer.weights.size(), " weights");
    std::set<std::string> weight_names;
    for (std::size_t i = 0; i < layer.weights.size(); ++i) {
      const std::string& w = layer.weight_names[i];
      check_name(w, true, ctx, "a weight name of layer " + q(layer.name));
      K_CHECK(ctx, weight_names.insert(w).second, "weight ", q(w), " appears twice in layer ", q(layer.name));
      const Tensor& t = layer.weights[i];
      K_CHECK(ctx, t.defined(), "weight ", q(w), " of layer ", q(layer.name), " is undefined");
      K_CHECK(ctx, is_floating(t.dtype()), "weight ", q(w), " of layer ", q(layer.name), " is ", t.dtype(),
              " (Keras' weights are float32 or float64)");
    }
  }
  write_atomically(path, ctx.op, [&](const std::string& temp) {
    const QuietErrors quiet;
    Handle file = checked(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, ctx,
                          "cannot create ", temp);
    write_strings(file.get(), "layer_names", names, false, ctx);
    if (!weights.backend.empty()) write_strings(file.get(), "backend", {weights.backend}, true, ctx);
    write_strings(file.get(), "keras_version", {weights.keras_version}, true, ctx);
    const Handle links = checked(H5Pcreate(H5P_LINK_CREATE), H5Pclose, ctx, "H5Pcreate");
    check_status(H5Pset_create_intermediate_group(links.get(), 1), ctx, "H5Pset_create_intermediate_group");
    for (const KerasLayerWeights& layer : weights.layers) {
      const Handle group = checked(H5Gcreate2(file.get(), layer.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                   H5Gclose, ctx, "cannot create group ", q(layer.name));
      write_strings(group.get(), "weight_names", layer.weight_names, false, ctx);
      for (std::size_t i = 0; i < layer.weights.size(); ++i) {
        const std::string& w = layer.weight_names[i];
        const Tensor t = layer.weights[i].to(Device::cpu()).contiguous();
        const bool f32 = t.dtype() == kFloat32;
        std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
        const Handle space = checked(t.dim() == 0 ? H5Screate(H5S_SCALAR)
                                                  : H5Screate_simple(t.dim(), dims.data(), nullptr),
                                     H5Sclose, ctx, "cannot create the dataspace of ", q(w));
        const Handle dataset =
            checked(H5Dcreate2(group.get(), w.c_str(), f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, space.get(),
                               links.get(), H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose, ctx, "cannot create dataset ", q(w), " in group ", q(layer.name));
        if (t.numel() > 0) {
          check_status(H5Dwrite(dataset.get(), f32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                H5P_DEFAULT, t.data_ptr()),
                       ctx, "cannot write dataset ", q(w), " in group ", q(layer.name));
        }
      }
    }
    K_CHECK(ctx, file.close(), "cannot close ", temp, ": ", hdf5_reason());
  });
}

}  // namespace parity::io
