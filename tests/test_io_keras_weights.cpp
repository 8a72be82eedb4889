// io/keras_weights: the real Keras 2.0.4 save_weights file of the seed
// (tests/data/seed_keras2/weight.h5, TensorFlow-saved) and the real Keras
// 3.15.1 one (tests/data/weights/seed.weights.h5, tools/golden/make_weight_fixtures.py)
// against the same weights as npy arrays, on Parity's seed model in both
// Keras 2 configurations; round trips; the mapping's conversions and errors;
// malformed HDF5 files written here with the HDF5 C API.
#include <gtest/gtest.h>
#include <parity/parity.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "blas_kernel.h"
#include "file_test_helpers.h"
#include "parity/autograd/grad_mode.h"
#include "parity/io/keras_weights.h"
#include "parity/io/npy.h"
#include "tools/seed/seed.h"

#if PARITY_WITH_HDF5
#include <hdf5.h>
#endif

using namespace parity;
using parity::testing::expect_error;
using parity::testing::expect_same_bits;

namespace {

constexpr std::int64_t kSize = 24, kBatch = 64;
const char* const kNames[] = {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"};

std::string data(const std::string& name) { return std::string(PARITY_TEST_DATA_DIR) + "/" + name; }
Tensor npy(const std::string& name) { return io::load_npy(data("seed_keras2/" + name + ".npy")); }

// The weights as Keras 2 on TensorFlow holds them, by Parity's names.
nn::StateDict w0() {
  nn::StateDict d;
  for (int k = 0; k < 8; ++k) d[kNames[k]] = npy("w0_" + std::to_string(k));
  return d;
}

std::string temp_path(const std::string& suffix = ".h5") {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  return (std::filesystem::temp_directory_path() / ("parity_keras_" + test + "_" + std::to_string(getpid()) + suffix))
      .string();
}

void expect_same_dict(const nn::StateDict& got, const nn::StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    expect_same_bits(got.at(name), t, name);
  }
}

nn::Sequential seed_model(seed::Backend backend) {
  nn::Sequential m = seed::model();
  m.build(seed::input_shape(backend, kSize), seed::build_options(backend));
  return m;
}

// The loss of the first batch (x[0:64], y[0:64]), forward only: what
// train_step reports before it updates anything.
// Computed as both Keras backends compute it (im2col + GEMM: the Keras 2
// replays' rule, tests/test_seed_keras2.cpp), so the Theano loss can be bit for bit.
float first_loss(nn::Module& model, seed::Backend backend) {
  CpuConvAlgorithmGuard as_the_frameworks(CpuConvAlgorithm::Im2colGemm);
  const Tensor x = npy("x").to(kFloat32).slice(0, 0, kBatch), y = npy("y").slice(0, 0, kBatch);
  autograd::NoGradGuard no_grad;
  return nn::losses::mse(model(seed::images_for(backend, x)), y).item<float>();
}

std::int64_t ulp_distance(float a, float b) {
  std::int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::llabs(static_cast<std::int64_t>(ia) - ib);
}

// Keras 2's weights of the seed's layers, built by hand (no file).
io::KerasWeights keras2_by_hand(const nn::StateDict& w, const std::string& backend = "tensorflow") {
  io::KerasWeights k;
  k.backend = backend;
  k.keras_version = "2.0.4";
  const char* layers[] = {"conv2d_1", "activation_1", "conv2d_2", "activation_2", "max_pooling2d_1",
                          "flatten_1", "dense_1",  "activation_3", "dense_2"};
  int next = 0;
  for (const char* name : layers) {
    io::KerasLayerWeights l;
    l.name = name;
    if (std::string(name).rfind("conv2d", 0) == 0 || std::string(name).rfind("dense", 0) == 0) {
      for (const char* p : {"kernel", "bias"}) {
        l.weight_names.push_back(std::string(name) + "/" + p + ":0");
        l.weights.push_back(w.at(kNames[next++]));
      }
    }
    k.layers.push_back(std::move(l));
  }
  return k;
}

#define REQUIRE_HDF5() \
  if (!io::have_hdf5()) GTEST_SKIP() << "this build has no HDF5 (PARITY_HDF5)"

}  // namespace

// ---- the real files ----

TEST(KerasWeights, Keras2RealFileHoldsTheNpyArraysBitForBit) {
  REQUIRE_HDF5();
  const io::KerasWeights k = io::load_keras2_weights(data("seed_keras2/weight.h5"));
  EXPECT_EQ(k.format, io::KerasFormat::Keras2);
  EXPECT_EQ(k.backend, "tensorflow");
  EXPECT_EQ(k.keras_version, "2.0.4");
  std::vector<std::string> names;
  for (const auto& l : k.layers) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"input_1", "conv2d_1", "activation_1", "conv2d_2", "activation_2",
                                             "max_pooling2d_1", "flatten_1", "dense_1", "activation_3", "dense_2"}));
  int k_index = 0;
  for (const auto& l : k.layers) {
    ASSERT_EQ(l.weights.size(), l.weight_names.size());
    if (l.weights.empty()) continue;
    EXPECT_EQ(l.weight_names, (std::vector<std::string>{l.name + "/kernel:0", l.name + "/bias:0"}));
    for (const Tensor& t : l.weights) {
      expect_same_bits(t, npy("w0_" + std::to_string(k_index)), l.name + " weight " + std::to_string(k_index));
      ++k_index;
    }
  }
  EXPECT_EQ(k_index, 8);
}

// The file on Parity's TensorFlow configuration: the weights as they are, and
// the first loss within 2 ulp of Keras-on-TensorFlow's (as test_seed_keras2).
TEST(KerasWeights, Keras2RealFileOnTheTensorFlowConfiguration) {
  REQUIRE_HDF5();
  nn::Sequential model = seed_model(seed::Backend::TensorFlow);
  io::load_keras_weights(model, io::load_keras2_weights(data("seed_keras2/weight.h5")));
  expect_same_dict(model.state_dict(), w0());
  const float got = first_loss(model, seed::Backend::TensorFlow);
  const float keras = npy("tensorflow_sgd_losses").to_vector<float>()[0];
  std::cout << std::setprecision(9) << "[ measured ] TensorFlow configuration from weight.h5: first loss " << got << ", Keras-on-TF "
            << keras << ", " << ulp_distance(got, keras) << " ulp\n";
  EXPECT_LE(ulp_distance(got, keras), 2) << got << " vs " << keras;
}

// On Parity's Theano configuration: Keras 2.0.4's flip of the TF-saved kernels
// plus Parity's layouts (exactly seed::theano_weights), and the first loss is
// Keras-on-Theano's to the last bit.
TEST(KerasWeights, Keras2RealFileOnTheTheanoConfiguration) {
  REQUIRE_HDF5();
  nn::Sequential model = seed_model(seed::Backend::Theano);
  io::load_keras_weights(model, io::load_keras2_weights(data("seed_keras2/weight.h5")));
  expect_same_dict(model.state_dict(), seed::theano_weights(w0(), kSize));
  const float got = first_loss(model, seed::Backend::Theano);
  const float keras = npy("theano_sgd_losses").to_vector<float>()[0];
  std::cout << std::setprecision(9) << "[ measured ] Theano configuration from weight.h5: first loss " << got << ", Keras-on-Theano "
            << keras << "\n";
  PARITY_REQUIRE_VERIFIED_BLAS_KERNEL();  // bit for bit with OpenBLAS's Haswell or SkylakeX sgemm kernels
  EXPECT_EQ(got, keras);
}

TEST(KerasWeights, Keras2RoundTripKeepsBitsAndStructure) {
  REQUIRE_HDF5();
  const io::KerasWeights a = io::load_keras2_weights(data("seed_keras2/weight.h5"));
  const std::string path = temp_path();
  io::save_keras2_weights(path, a);
  const io::KerasWeights b = io::load_keras2_weights(path);
  EXPECT_EQ(b.format, a.format);
  EXPECT_EQ(b.backend, a.backend);
  EXPECT_EQ(b.keras_version, a.keras_version);
  ASSERT_EQ(b.layers.size(), a.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(b.layers[i].name, a.layers[i].name);
    EXPECT_EQ(b.layers[i].weight_names, a.layers[i].weight_names);
    ASSERT_EQ(b.layers[i].weights.size(), a.layers[i].weights.size());
    for (std::size_t j = 0; j < a.layers[i].weights.size(); ++j) {
      expect_same_bits(b.layers[i].weights[j], a.layers[i].weights[j], a.layers[i].weight_names[j]);
    }
  }
  // Every dtype and rank Keras stores: float64, a scalar, an empty tensor.
  io::KerasWeights c;
  c.backend = "theano";
  c.keras_version = "2.2.4";
  io::KerasLayerWeights l;
  l.name = "odd";
  l.weight_names = {"odd/double:0", "odd/scalar:0", "odd/empty:0", "deep/er/path:0"};
  Generator g(1);
  l.weights = {randn({2, 3}, {.dtype = kFloat64}, 0.0, 1.0, &g), full({}, -0.0), zeros({0, 4}), ones({1})};
  c.layers.push_back(l);
  io::save_keras2_weights(path, c);
  const io::KerasWeights d = io::load_keras2_weights(path);
  EXPECT_EQ(d.backend, "theano");
  EXPECT_EQ(d.keras_version, "2.2.4");
  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_EQ(d.layers[0].weight_names, l.weight_names);
  for (std::size_t j = 0; j < l.weights.size(); ++j) expect_same_bits(d.layers[0].weights[j], l.weights[j], "odd");
  std::remove(path.c_str());
}

// A Theano-configuration model saved as Keras 2 on Theano holds its weights:
// backend "theano", HWIO kernels flipped (Keras' convert_kernel of the TF
// ones), the Dense rows back in (h, w, c) order; loaded into the TensorFlow
// configuration, Keras' flip gives the TF-saved weights back, bit for bit.
TEST(KerasWeights, Keras2FromTheTheanoConfigurationIsWhatKerasOnTheanoHolds) {
  nn::Sequential theano = seed_model(seed::Backend::Theano);
  theano.load_state_dict(seed::theano_weights(w0(), kSize));
  const io::KerasWeights k = io::keras2_weights_of(theano);
  EXPECT_EQ(k.backend, "theano");
  EXPECT_EQ(k.keras_version, "2.0.4");
  ASSERT_EQ(k.layers.size(), 9u);
  EXPECT_EQ(k.layers[0].name, "conv2d_1");
  EXPECT_EQ(k.layers[0].weight_names, (std::vector<std::string>{"conv2d_1/kernel:0", "conv2d_1/bias:0"}));
  EXPECT_TRUE(k.layers[1].weights.empty());
  expect_same_bits(k.layers[0].weights[0], nn::flip_kernel(npy("w0_0"), KernelLayout::HWIO), "conv2d_1 kernel");
  expect_same_bits(k.layers[2].weights[0], nn::flip_kernel(npy("w0_2"), KernelLayout::HWIO), "conv2d_2 kernel");
  expect_same_bits(k.layers[6].weights[0], npy("w0_4"), "dense_1 kernel");
  expect_same_bits(k.layers[8].weights[1], npy("w0_7"), "dense_2 bias");

  nn::Sequential tf = seed_model(seed::Backend::TensorFlow);
  io::load_keras_weights(tf, k);
  expect_same_dict(tf.state_dict(), w0());
  if (io::have_hdf5()) {
    const std::string path = temp_path();
    io::save_keras2_weights(path, k);
    nn::Sequential tf2 = seed_model(seed::Backend::TensorFlow);
    io::load_keras_weights(tf2, io::load_keras2_weights(path));
    expect_same_dict(tf2.state_dict(), w0());
    std::remove(path.c_str());
  }
}

TEST(KerasWeights, Keras3RealFileHoldsTheNpyArraysAndLoadsByKeras3Names) {
  REQUIRE_HDF5();
  const io::KerasWeights k = io::load_keras3_weights(data("weights/seed.weights.h5"));
  EXPECT_EQ(k.format, io::KerasFormat::Keras3);
  EXPECT_EQ(k.backend, "");
  std::vector<std::string> names;
  for (const auto& l : k.layers) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"activation", "activation_1", "activation_2", "conv2d", "conv2d_1",
                                             "dense", "dense_1", "flatten", "max_pooling2d"}));
  const std::pair<const char*, int> weighted[] = {{"conv2d", 0}, {"conv2d_1", 2}, {"dense", 4}, {"dense_1", 6}};
  for (const auto& [name, first] : weighted) {
    const auto& l = *std::find_if(k.layers.begin(), k.layers.end(), [&](const auto& x) { return x.name == name; });
    EXPECT_EQ(l.weight_names, (std::vector<std::string>{"0", "1"}));
    expect_same_bits(l.weights.at(0), npy("w0_" + std::to_string(first)), std::string(name) + " vars/0");
    expect_same_bits(l.weights.at(1), npy("w0_" + std::to_string(first + 1)), std::string(name) + " vars/1");
  }
  nn::Sequential tf = seed_model(seed::Backend::TensorFlow);
  io::load_keras_weights(tf, k);
  expect_same_dict(tf.state_dict(), w0());
  nn::Sequential theano = seed_model(seed::Backend::Theano);
  io::load_keras_weights(theano, k);  // Keras 3's kernels are cross-correlation kernels: flipped for Theano's mode
  expect_same_dict(theano.state_dict(), seed::theano_weights(w0(), kSize));
  EXPECT_LE(ulp_distance(first_loss(tf, seed::Backend::TensorFlow), npy("tensorflow_sgd_losses").to_vector<float>()[0]),
            2);
  PARITY_REQUIRE_VERIFIED_BLAS_KERNEL();  // bit for bit with OpenBLAS's Haswell or SkylakeX sgemm kernels
  EXPECT_EQ(first_loss(theano, seed::Backend::Theano), npy("theano_sgd_losses").to_vector<float>()[0]);
}

// ---- the mapping, without files ----

TEST(KerasWeights, MappingConvertsForEveryLayoutAndConvMode) {
  const nn::StateDict w = w0();
  // A Theano-saved file onto the TensorFlow configuration: Keras flips the kernels.
  nn::StateDict flipped = w;
  for (const char* n : {"0.kernel", "2.kernel"}) flipped[n] = nn::flip_kernel(w.at(n), KernelLayout::HWIO);
  nn::Sequential tf = seed_model(seed::Backend::TensorFlow);
  expect_same_dict(io::keras_state_dict(tf, keras2_by_hand(flipped, "theano")), w);
  // No backend attribute: Keras converts nothing.
  expect_same_dict(io::keras_state_dict(tf, keras2_by_hand(w, "")), w);
  nn::Sequential theano = seed_model(seed::Backend::Theano);
  expect_same_dict(io::keras_state_dict(theano, keras2_by_hand(flipped, "theano")),
                   io::keras_state_dict(theano, keras2_by_hand(w, "tensorflow")));
  // PyTorch's configuration (NCHW, cross-correlation): OIHW kernels, no flip, the Dense rows reordered.
  nn::Sequential torch = seed::model();
  torch.build({3, kSize, kSize}, {.layout = Layout::NCHW, .seed = 6});
  const nn::StateDict t = io::keras_state_dict(torch, keras2_by_hand(w));
  expect_same_bits(t.at("0.kernel"), nn::hwio_to_oihw(w.at("0.kernel")), "0.kernel");
  const std::int64_t p = seed::pooled_size(kSize);
  expect_same_bits(t.at("6.kernel"), nn::dense_rows_nhwc_to_nchw(w.at("6.kernel"), p, p, 64), "6.kernel");
  expect_same_bits(t.at("8.kernel"), w.at("8.kernel"), "8.kernel: not after the Flatten");
  // A channels_first Keras model's Dense rows are already (c, h, w).
  const nn::StateDict first = io::keras_state_dict(torch, keras2_by_hand(w), {.keras_layout = Layout::NCHW});
  expect_same_bits(first.at("6.kernel"), w.at("6.kernel"), "6.kernel, channels_first");
  // Out and back in, every configuration: the same bits.
  for (const Layout layout : {Layout::NHWC, Layout::NCHW}) {
    for (const ConvMode mode : {ConvMode::CrossCorrelation, ConvMode::Convolution}) {
      nn::Sequential m = seed::model();
      m.build(layout == Layout::NHWC ? Shape{kSize, kSize, 3} : Shape{3, kSize, kSize},
              {.layout = layout, .seed = 7, .conv_mode = mode});
      for (const Layout keras_layout : {Layout::NHWC, Layout::NCHW}) {
        const io::KerasWeights k = io::keras2_weights_of(m, {.keras_layout = keras_layout});
        expect_same_dict(io::keras_state_dict(m, k, {.keras_layout = keras_layout}), m.state_dict());
      }
    }
  }
}

TEST(KerasWeights, MappingErrorsNameBothLayers) {
  nn::Sequential tf = seed_model(seed::Backend::TensorFlow);
  const nn::StateDict w = w0();
  io::KerasWeights k = keras2_by_hand(w);
  k.layers.pop_back();  // dense_2
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict",
               "you are trying to load a weight file containing 3 layers into a model with 4 layers");
  k = keras2_by_hand(w);
  k.layers[8].weights.pop_back();
  k.layers[8].weight_names.pop_back();
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict",
               "layer 8 ('dense_2', Dense) of the model was found to correspond to layer 'dense_2' of the file, but "
               "it has 2 weights and the file's layer 1");
  k = keras2_by_hand(w);
  k.layers[0].weights[0] = zeros({7, 7, 3, 32});
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict",
               "layer 0 ('conv2d_1', Conv2D) '0.kernel' from the file's 'conv2d_1' weight 'conv2d_1/kernel:0': the "
               "model's is [7, 7, 3, 64], the file's [7, 7, 3, 32]");
  k.layers[0].weights[0] = zeros({7, 7, 3});
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict", "a Conv2D kernel must be 4-D");
  k = keras2_by_hand(w);
  k.keras_version = "";
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict",
               "the file is from Keras 1 (no keras_version attribute)");
  k.keras_version = "1.2.2";
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict", "keras_version '1.2.2'");
  k = keras2_by_hand(w, "mxnet");
  expect_error([&] { io::keras_state_dict(tf, k); }, "keras_state_dict", "unknown backend 'mxnet'");
  nn::Sequential unbuilt = seed::model();
  expect_error([&] { io::keras_state_dict(unbuilt, keras2_by_hand(w)); }, "keras_state_dict",
               "the model is not built");
  // Keras 3: by the names a fresh Keras 3 model would have, or by hand.
  io::KerasWeights k3 = keras2_by_hand(w);
  k3.format = io::KerasFormat::Keras3;
  expect_error([&] { io::keras_state_dict(tf, k3); }, "keras_state_dict",
               "the file has no layer 'conv2d' (the name Keras 3 gives the model's Conv2D 'conv2d_1')");
  expect_same_dict(io::keras_state_dict(tf, k3, {.layer_names = {"conv2d_1", "conv2d_2", "dense_1", "dense_2"}}), w);
  expect_error([&] { io::keras_state_dict(tf, k3, {.layer_names = {"conv2d_1"}}); }, "keras_state_dict",
               "1 layer names given for the model's 4 layers with weights");
}

// ---- writing ----

TEST(KerasWeights, WriterRefusesWhatKerasCouldNotLoad) {
  REQUIRE_HDF5();
  const std::string path = temp_path();
  const nn::StateDict w = w0();
  io::KerasWeights k = keras2_by_hand(w);
  k.layers[1].name = "conv2d_1";
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "layer 'conv2d_1' appears twice");
  k = keras2_by_hand(w);
  k.layers[1].name = "a/b";
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "contains '/' or is '.'");
  k = keras2_by_hand(w);
  k.layers[0].weight_names[1] = "conv2d_1//bias:0";
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "has an empty or '.' path component");
  k = keras2_by_hand(w);
  k.layers[0].weights[1] = arange(64, {.dtype = kInt32});
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "is int32 (Keras' weights are float32 or float64)");
  k = keras2_by_hand(w);
  k.keras_version = "";
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "keras_version is empty");
  k = keras2_by_hand(w);
  k.format = io::KerasFormat::Keras3;
  expect_error([&] { io::save_keras2_weights(path, k); }, path, "only Keras 2's is written");
  EXPECT_FALSE(std::filesystem::exists(path));
}

// A write that fails half way (here HDF5 cannot make "a/b" where "a" is a
// dataset) leaves the old file as it was, and no temporary file.
TEST(KerasWeights, AFailedWriteLeavesTheOldFile) {
  REQUIRE_HDF5();
  const std::filesystem::path dir = temp_path(".d");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.h5").string();
  io::save_keras2_weights(path, keras2_by_hand(w0()));
  std::ifstream in(path, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  io::KerasWeights bad = keras2_by_hand(w0());
  bad.layers[0].weight_names = {"a", "a/b"};
  expect_error([&] { io::save_keras2_weights(path, bad); }, path, "cannot create dataset 'a/b' in group 'conv2d_1'");
  std::ifstream again(path, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>()), before);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "w.h5") << "left behind: " << entry.path();
  }
  std::filesystem::remove_all(dir);
}

TEST(KerasWeights, WithoutHdf5TheFileFunctionsSaySo) {
  if (io::have_hdf5()) GTEST_SKIP() << "this build has HDF5";
  expect_error([] { io::load_keras2_weights("w.h5"); }, "w.h5", "this build of Parity has no HDF5 support");
  expect_error([] { io::load_keras3_weights("w.weights.h5"); }, "w.weights.h5", "no HDF5 support");
  expect_error([] { io::save_keras2_weights("w.h5", {}); }, "w.h5", "no HDF5 support");
}

// ---- malformed files, written with the HDF5 C API ----

#if PARITY_WITH_HDF5
namespace {

// A file being written: create it, hand its root to `fill`, close it.
void write_h5(const std::string& path, const std::function<void(hid_t root)>& fill) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  fill(file);
  ASSERT_GE(H5Fclose(file), 0);
}

// A string attribute: scalar or a list, fixed-length (`pad`) or variable-length.
void attr_strings(hid_t object, const char* name, const std::vector<std::string>& values, bool scalar = false,
                  bool variable = false, H5T_str_t pad = H5T_STR_NULLPAD) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  std::size_t size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  H5Tset_size(type, variable ? H5T_VARIABLE : size);
  if (!variable) H5Tset_strpad(type, pad);
  const hsize_t dims[1] = {values.size()};
  const hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr);
  const hid_t attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (variable) {
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    H5Awrite(attr, type, ptrs.data());
  } else {
    std::vector<char> bytes(values.size() * size, pad == H5T_STR_SPACEPAD ? ' ' : '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(bytes.data() + i * size, values[i].data(), values[i].size());
    H5Awrite(attr, type, bytes.data());
  }
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

void attr_ints(hid_t object, const char* name, std::vector<hsize_t> dims) {
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  const std::vector<std::int32_t> values(n, 7);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t attr = H5Acreate2(object, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT32, values.data());
  H5Aclose(attr);
  H5Sclose(space);
}

// A dataset at `path` (intermediate groups made), filled with zeros unless `write` is false.
void dataset(hid_t loc, const char* path, hid_t type, std::vector<hsize_t> dims, bool write = true,
             hid_t dcpl = H5P_DEFAULT, hid_t space = -1) {
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const bool own_space = space < 0;
  if (own_space) space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t d = H5Dcreate2(loc, path, type, space, lcpl, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0) << path;
  if (write) {
    hsize_t n = 1;
    for (hsize_t x : dims) n *= x;
    std::vector<char> zeros(n * H5Tget_size(type), '\0');
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
  }
  H5Dclose(d);
  if (own_space) H5Sclose(space);
  H5Pclose(lcpl);
}

hid_t group(hid_t parent, const char* name) { return H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); }

// The root of a small valid Keras 2 file: one Dense layer, `weight` made by make_weight.
void keras2_root(hid_t root, const std::function<void(hid_t layer)>& make_weight = {}) {
  attr_strings(root, "layer_names", {"dense_1"});
  attr_strings(root, "backend", {"tensorflow"}, true);
  attr_strings(root, "keras_version", {"2.0.4"}, true);
  const hid_t g = group(root, "dense_1");
  attr_strings(g, "weight_names", {"dense_1/kernel:0"});
  if (make_weight) {
    make_weight(g);
  } else {
    dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, {2, 3});
  }
  H5Gclose(g);
}

// load_keras2_weights (or 3) rejects the file that `fill` writes, naming it
// and the problem, before allocating tensor memory.
void expect_rejected(const std::function<void(hid_t)>& fill, const std::string& problem, bool keras3 = false) {
  const std::string path = temp_path();
  write_h5(path, fill);
  const std::int64_t allocations = memory_stats().num_allocations;
  if (keras3) {
    expect_error([&] { io::load_keras3_weights(path); }, path, problem);
  } else {
    expect_error([&] { io::load_keras2_weights(path); }, path, problem);
  }
  EXPECT_EQ(memory_stats().num_allocations, allocations) << "allocated before rejecting the file";
  std::remove(path.c_str());
}

}  // namespace

TEST(KerasWeights, AcceptsEveryStringFormKerasAndH5pyWrite) {
  const std::string path = temp_path();
  // Variable-length (h5py 3), space-padded, a scalar weight, an empty list of weights as Keras' float64 [].
  write_h5(path, [](hid_t root) {
    attr_strings(root, "layer_names", {"input_1", "dense_1"}, false, true);
    attr_strings(root, "backend", {"theano"}, true, true);
    attr_strings(root, "keras_version", {"2.0.4"}, false, false, H5T_STR_SPACEPAD);  // a 1-element list
    const hid_t in = group(root, "input_1");
    const hsize_t zero[1] = {0};
    const hid_t space = H5Screate_simple(1, zero, nullptr);
    const hid_t attr = H5Acreate2(in, "weight_names", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(attr);
    H5Sclose(space);
    H5Gclose(in);
    const hid_t g = group(root, "dense_1");
    attr_strings(g, "weight_names", {"dense_1/kernel:0", "dense_1/bias:0"}, false, false, H5T_STR_SPACEPAD);
    dataset(g, "dense_1/kernel:0", H5T_IEEE_F64BE, {2, 3});
    dataset(g, "dense_1/bias:0", H5T_IEEE_F32BE, {});
    H5Gclose(g);
  });
  const io::KerasWeights k = io::load_keras2_weights(path);
  EXPECT_EQ(k.backend, "theano");
  EXPECT_EQ(k.keras_version, "2.0.4");
  ASSERT_EQ(k.layers.size(), 2u);
  EXPECT_TRUE(k.layers[0].weights.empty());
  EXPECT_EQ(k.layers[1].weight_names, (std::vector<std::string>{"dense_1/kernel:0", "dense_1/bias:0"}));
  EXPECT_EQ(k.layers[1].weights[0].dtype(), kFloat64);
  EXPECT_EQ(k.layers[1].weights[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(k.layers[1].weights[1].dim(), 0);
  // A whole-model file (Keras 2's model.save) keeps the weights in 'model_weights'.
  write_h5(path, [](hid_t root) {
    const hid_t g = group(root, "model_weights");
    keras2_root(g);
    H5Gclose(g);
  });
  EXPECT_EQ(io::load_keras2_weights(path).layers.at(0).weights.at(0).shape(), (Shape{2, 3}));
  std::remove(path.c_str());
}

TEST(KerasWeights, RejectsMalformedKeras2Files) {
  const std::string text = temp_path(".txt");
  { std::ofstream(text) << "not an HDF5 file\n"; }
  expect_error([&] { io::load_keras2_weights(text); }, text, "not a readable HDF5 file");
  std::remove(text.c_str());
  expect_error([] { io::load_keras2_weights("/no/such/weights.h5"); }, "/no/such/weights.h5", "no such file");

  // Attributes: missing, of the wrong type or shape.
  expect_rejected([](hid_t) {}, "no 'layer_names' attribute on the root group: not a Keras 2 save_weights file");
  expect_rejected([](hid_t root) { H5Gclose(group(root, "layers")); }, "load_keras3_weights reads those");
  expect_rejected([](hid_t root) { attr_ints(root, "layer_names", {2}); },
                  "attribute 'layer_names' of the root group is an integer attribute (expected a string or a list of "
                  "strings)");
  expect_rejected(
      [](hid_t root) {
        const hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, 4);
        const hsize_t dims[2] = {1, 1};
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        H5Aclose(H5Acreate2(root, "layer_names", type, space, H5P_DEFAULT, H5P_DEFAULT));
        H5Sclose(space);
        H5Tclose(type);
      },
      "attribute 'layer_names' of the root group is a 2-D array");
  expect_rejected(
      [](hid_t root) {
        keras2_root(root);
        H5Adelete(root, "backend");
        attr_strings(root, "backend", {"tensorflow", "theano"});
      },
      "attribute 'backend' of the root group holds 2 strings (expected one)");
  expect_rejected([](hid_t root) { attr_strings(root, "layer_names", {"dense_1"}); },
                  "layer 'dense_1' is in layer_names, but there is no such group");
  expect_rejected(
      [](hid_t root) {
        attr_strings(root, "layer_names", {"dense_1", "dense_1"});
        H5Gclose(group(root, "dense_1"));
      },
      "layer 'dense_1' appears twice in layer_names");
  expect_rejected(
      [](hid_t root) {
        attr_strings(root, "layer_names", {"dense_1"});
        H5Gclose(group(root, "dense_1"));
      },
      "group 'dense_1' has no 'weight_names' attribute");
  expect_rejected([](hid_t root) { keras2_root(root, [](hid_t) {}); },
                  "cannot open dataset 'dense_1/kernel:0' of group 'dense_1'");
  // External links are not followed.
  expect_rejected(
      [](hid_t root) {
        attr_strings(root, "layer_names", {"dense_1"});
        H5Lcreate_external("/etc/other.h5", "/dense_1", root, "dense_1", H5P_DEFAULT, H5P_DEFAULT);
      },
      "an external link to '/etc/other.h5:/dense_1', which Parity does not follow");

  // Datasets: their dtype.
  expect_rejected([](hid_t root) { keras2_root(root, [](hid_t g) { dataset(g, "dense_1/kernel:0", H5T_STD_I32LE, {2}); }); },
                  "dataset 'dense_1/kernel:0' of group 'dense_1' has type an integer of 4 bytes (expected float32 or "
                  "float64)");
  expect_rejected(
      [](hid_t root) {
        keras2_root(root, [](hid_t g) {
          const hid_t type = H5Tcopy(H5T_C_S1);
          H5Tset_size(type, 3);
          dataset(g, "dense_1/kernel:0", type, {2});
          H5Tclose(type);
        });
      },
      "has type a string of 3 bytes");
  expect_rejected(
      [](hid_t root) {
        keras2_root(root, [](hid_t g) {
          const hid_t half = H5Tcopy(H5T_IEEE_F32LE);  // IEEE binary16
          H5Tset_fields(half, 15, 10, 5, 0, 10);
          H5Tset_precision(half, 16);
          H5Tset_size(half, 2);
          H5Tset_ebias(half, 15);
          dataset(g, "dense_1/kernel:0", half, {2});
          H5Tclose(half);
        });
      },
      "has type a float of 2 bytes (not IEEE float32 or float64)");
  // Their shape and storage.
  expect_rejected(
      [](hid_t root) { keras2_root(root, [](hid_t g) { dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, {1, 1, 1, 1, 1, 1, 1, 1, 2}); }); },
      "has 9 dimensions (a tensor has at most 8)");
  expect_rejected(
      [](hid_t root) {
        keras2_root(root, [](hid_t g) {
          const hid_t space = H5Screate(H5S_NULL);
          dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, {}, false, H5P_DEFAULT, space);
          H5Sclose(space);
        });
      },
      "has a null dataspace (no data)");
  expect_rejected(
      [](hid_t root) { keras2_root(root, [](hid_t g) { dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, {4, 4}, false); }); },
      "is [4, 4] float32, 64 bytes, but the file stores 0 bytes for it (never written, or a damaged file)");
  const auto chunked = [](std::vector<hsize_t> dims) {
    return [dims](hid_t root) {
      keras2_root(root, [&](hid_t g) {
        const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        std::vector<hsize_t> chunk(dims.size(), 1);
        H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
        dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, dims, false, dcpl);
        H5Pclose(dcpl);
      });
    };
  };
  expect_rejected(chunked({1u << 20, 1u << 20}), "is [1048576, 1048576] float32, 4398046511104 bytes, more than the "
                                                  "file of");
  expect_rejected(chunked({1ull << 31, 1ull << 31, 1ull << 31}), "is too large (its size in bytes overflows int64)");
  expect_rejected(
      [](hid_t root) {
        keras2_root(root, [](hid_t g) {
          const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
          H5Pset_external(dcpl, "/etc/weights.bin", 0, 24);
          dataset(g, "dense_1/kernel:0", H5T_IEEE_F32LE, {2, 3}, false, dcpl);
          H5Pclose(dcpl);
        });
      },
      "keeps its data in 1 external files");
}

TEST(KerasWeights, RejectsMalformedKeras3Files) {
  expect_rejected([](hid_t) {}, "no 'layers' group: not a Keras 3 .weights.h5 file", true);
  expect_rejected([](hid_t root) { keras2_root(root); }, "load_keras2_weights reads those", true);
  const auto layer_with = [](std::vector<const char*> vars, hid_t type) {
    return [vars, type](hid_t root) {
      const hid_t layers = group(root, "layers");
      const hid_t dense = group(layers, "dense");
      const hid_t v = group(dense, "vars");
      for (const char* name : vars) dataset(v, name, type, {2});
      H5Gclose(v);
      H5Gclose(dense);
      H5Gclose(layers);
    };
  };
  expect_rejected(layer_with({"0", "kernel"}, H5T_IEEE_F32LE),
                  "group 'layers/dense/vars' holds 'kernel' (Keras 3 names variables 0, 1, 2, ...)", true);
  expect_rejected(layer_with({"0", "01"}, H5T_IEEE_F32LE), "holds '01'", true);
  expect_rejected(layer_with({"0", "2"}, H5T_IEEE_F32LE),
                  "group 'layers/dense/vars' has no variable 1 (it has 2 variables, numbered up to 2)", true);
  expect_rejected(layer_with({"0"}, H5T_STD_I64LE), "dataset '0' of group 'layers/dense/vars' has type an integer",
                  true);
  expect_rejected(
      [](hid_t root) {
        const hid_t layers = group(root, "layers");
        H5Lcreate_external("/etc/other.h5", "/dense", layers, "dense", H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(layers);
      },
      "'dense' in group 'layers/' is an external link, which Parity does not follow", true);
  // A nested model's layers are found, named by their path.
  const std::string path = temp_path();
  write_h5(path, [](hid_t root) {
    const hid_t layers = group(root, "layers");
    const hid_t inner = group(layers, "sequential");
    const hid_t inner_layers = group(inner, "layers");
    const hid_t dense = group(inner_layers, "dense");
    const hid_t v = group(dense, "vars");
    dataset(v, "0", H5T_IEEE_F32LE, {3});
    for (hid_t h : {v, dense, inner_layers, inner, layers}) H5Gclose(h);
  });
  const io::KerasWeights k = io::load_keras3_weights(path);
  ASSERT_EQ(k.layers.size(), 2u);
  EXPECT_EQ(k.layers[0].name, "sequential");
  EXPECT_EQ(k.layers[1].name, "sequential/layers/dense");
  EXPECT_EQ(k.layers[1].weights.at(0).shape(), (Shape{3}));
  std::remove(path.c_str());
}
#endif  // PARITY_WITH_HDF5
