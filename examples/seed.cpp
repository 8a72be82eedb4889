// The seed issue, explained end to end (keras-team/keras#6694; docs/SEED.md).
//
// In 2017 a Keras user trained one small conv/dense model from the same saved
// weights on Theano and on TensorFlow with Adam, and got completely different
// losses and predictions (Adadelta too; SGD not). This program shows, from
// committed runs of the real Keras 2.0.4 (tests/data/seed_keras2, recorded by
// tools/golden/keras2/seed_run.py and seed_raced.py on a CPU) and from Parity:
//   1. the real Keras 2.0.4 on Theano and on TensorFlow, and Parity's two
//      configurations reproducing them from the same weight file;
//   2. the TensorFlow race: real raced runs, and the late reads that reproduce them;
//   3. the lockstep divergence report of the two configurations (and a picture);
//   4. which named causes can make a first-batch gap the size of the seed's.
//
//   example_seed [--plot FILE.png] [--json FILE.json] [--no-race]
#include <parity/parity.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <iostream>
#include <set>
#include <string>

#include "tools/seed/seed.h"
#include "parity/train/train.h"

#ifndef PARITY_SEED_DATA_DIR
#define PARITY_SEED_DATA_DIR "tests/data/seed_keras2"
#endif

using namespace parity;

namespace {

constexpr std::int64_t kSize = 24, kBatch = 64;
constexpr double kSeedGap = (4376.9785 - 4305.3589) / 4305.3589;  // the seed's first-batch gap: 1.66%

Tensor file(const std::string& name) { return io::load_npy(std::string(PARITY_SEED_DATA_DIR) + "/" + name + ".npy"); }

nn::StateDict keras_weights() {
  const char* names[] = {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"};
  nn::StateDict d;
  for (int k = 0; k < 8; ++k) d[names[k]] = file("w0_" + std::to_string(k));
  return d;
}

nn::Sequential built(seed::Backend b) {
  nn::Sequential m = seed::model();
  m.build(seed::input_shape(b, kSize), seed::build_options(b));
  return m;
}

const optim::Preset& preset(seed::Backend b) {
  return b == seed::Backend::Theano ? optim::presets::keras2_theano : optim::presets::keras2_tensorflow;
}

std::unique_ptr<optim::Optimizer> make(const std::string& opt, std::vector<Tensor> p, const optim::Preset& pr) {
  if (opt == "sgd") return seed::sgd(1e-7)(std::move(p), pr);
  if (opt == "adam") return seed::adam()(std::move(p), pr);
  return seed::adadelta()(std::move(p), pr);
}

std::vector<double> parity_losses(seed::Backend b, const std::string& opt, const Tensor& x, const Tensor& y) {
  nn::Sequential m = built(b);
  m.load_state_dict(b == seed::Backend::Theano ? seed::theano_weights(keras_weights(), kSize) : keras_weights());
  auto o = make(opt, m.parameters(), preset(b));
  std::vector<double> out;
  for (std::int64_t k = 0; k * kBatch < x.size(0); ++k) {
    const Tensor xb = x.slice(0, k * kBatch, (k + 1) * kBatch), yb = y.slice(0, k * kBatch, (k + 1) * kBatch);
    out.push_back(train::train_step(m, *o, nn::losses::mse, seed::images_for(b, xb), yb).loss_value);
  }
  return out;
}

void print_row(const std::string& label, const std::vector<double>& v) {
  std::cout << "  " << std::left << std::setw(34) << label << std::right;
  for (double x : v) std::cout << std::setw(12) << std::fixed << std::setprecision(4) << x;
  std::cout << "\n";
}

std::vector<double> as_doubles(const Tensor& t) {
  const std::vector<float> f = t.to_vector<float>();
  return {f.begin(), f.end()};
}

// 1. The real Keras 2.0.4 and Parity.
void real_keras(const Tensor& x, const Tensor& y) {
  std::cout << "\n=== 1. The real Keras 2.0.4 (24x24, 256 samples, batch 64; TF saved the weights, both loaded them)\n"
            << "  batch losses                         batch 1     batch 2     batch 3     batch 4\n";
  for (const std::string opt : {"sgd", "adam", "adadelta"}) {
    print_row("Keras 2.0.4 + Theano 0.9.0, " + opt, as_doubles(file("theano_" + opt + "_losses")));
    print_row("Parity, Theano configuration", parity_losses(seed::Backend::Theano, opt, x, y));
    print_row("Keras 2.0.4 + TensorFlow (1 thread)", as_doubles(file("tensorflow_" + opt + "_losses")));
    print_row("Parity, TensorFlow configuration", parity_losses(seed::Backend::TensorFlow, opt, x, y));
  }
  std::cout << "  -> Parity's Theano configuration gives Keras-on-Theano's first loss to the last bit and its TF\n"
               "     configuration TF's within an ulp; with TensorFlow's execution made sequential, the two real\n"
               "     backends agree to about 1e-7 on every batch, for all three optimizers.\n";
}

// 2. The race.
void race(const Tensor& x, const Tensor& y) {
  std::cout << "\n=== 2. The TensorFlow race: the same script, Keras' default session, 10 runs\n";
  const Tensor runs = file("raced_adam_losses");
  std::set<std::vector<float>> seen;
  std::vector<std::vector<double>> distinct;
  for (std::int64_t r = 0; r < runs.size(0); ++r) {
    const std::vector<float> row = runs.select(0, r).to_vector<float>();
    if (seen.insert(row).second) distinct.emplace_back(row.begin(), row.end());
  }
  std::cout << "  Adam: " << distinct.size() << " different loss sequences in " << runs.size(0)
            << " identical runs. Which late reads reproduce the first four (train::search_races;\n"
            << "  tests/test_race.cpp searches all of them, and SGD's):\n";
  if (distinct.size() > 4) distinct.resize(4);
  auto make_model = [] { return built(seed::Backend::TensorFlow); };
  auto load = [](nn::Sequential& m) { m.load_state_dict(keras_weights()); };
  auto maker = [](std::vector<Tensor> p) { return make("adam", std::move(p), optim::presets::keras2_tensorflow); };
  const std::vector<train::RaceSearch> found =
      train::search_races(make_model, maker, load, x, y, kBatch, distinct, nn::losses::mse, {.max_results = 1});
  for (std::size_t r = 0; r < distinct.size(); ++r) {
    std::vector<double> tail(distinct[r].begin() + 1, distinct[r].end());
    std::cout << "  losses " << std::fixed << std::setprecision(2);
    for (double l : distinct[r]) std::cout << std::setw(9) << l;
    std::cout << "\n    " << found[r].summary();
  }
  std::cout << "  -> a late read of the upper layers' weights by the backward pass moves batch 2's loss from\n"
               "     3617.57 to 4765.04; SGD's runs differ by less (its step is not normalised). t_ahead, the\n"
               "     counter read late at every step, is one schedule among them.\n";
  // The same script with Keras' variables made resource variables (copy-on-write assigns).
  const Tensor resource = file("raced_resource_adam_losses");
  std::set<std::vector<float>> outcomes;
  for (std::int64_t r = 0; r < resource.size(0); ++r) outcomes.insert(resource.select(0, r).to_vector<float>());
  std::cout << "  Why a backward pass can read updated weights: TF 1.x's reference variables are assigned in place\n"
               "  while the backward ops read the forward pass's alias of the buffer. With resource variables\n"
               "  (copy-on-write) the same session gave "
            << outcomes.size() << " Adam outcome(s) in " << resource.size(0)
            << " runs:\n  no late weights, the counter late at every step (t_ahead).\n";
}

// 3. The lockstep report.
void report(const Tensor& x, const Tensor& y, const std::string& json, const std::string& plot) {
  std::cout << "\n=== 3. Lockstep: the TensorFlow and the Theano configuration side by side (Adam)\n";
  nn::Sequential a = built(seed::Backend::TensorFlow), b = built(seed::Backend::Theano);
  a.load_state_dict(keras_weights());
  b.load_state_dict(seed::theano_weights(keras_weights(), kSize));
  auto oa = make("adam", a.parameters(), optim::presets::keras2_tensorflow);
  auto ob = make("adam", b.parameters(), optim::presets::keras2_theano);
  train::LockstepSide sa = seed::lockstep_side(seed::Backend::TensorFlow, a, *oa, kSize);
  train::LockstepSide sb = seed::lockstep_side(seed::Backend::Theano, b, *ob, kSize);
  const train::DivergenceReport r = train::lockstep(sa, sb, x, y, {.steps = 4, .batch_size = kBatch});
  std::cout << r.summary();
  r.write_json(json);
  std::cout << "  report: " << json << "\n";
  const std::string cmd = "/usr/bin/python3 '" + std::string(PARITY_SOURCE_DIR) + "/tools/diff/plot_divergence.py' '" +
                          json + "' '" + plot + "' 2>/dev/null";
  if (std::system(cmd.c_str()) == 0) {
    std::cout << "  picture: " << plot << "\n";
  } else {
    std::cout << "  (no picture: needs python3-matplotlib)\n";
  }
  std::cout << "  -> with the same state each step, nothing parts beyond float32 rounding; the optimizer turns the\n"
               "     gradients' rounding differences into update differences about 100x larger (amplification).\n";
}

// 4. Causes of a first-batch gap.
double first_loss(seed::Backend b, const nn::StateDict& weights, const Tensor& x, const Tensor& y,
                  Device device = Device::cpu()) {
  nn::Sequential m = built(b);
  m.load_state_dict(weights);
  m.to(device);
  autograd::NoGradGuard no_grad;
  return nn::losses::mse(m(seed::images_for(b, x.slice(0, 0, kBatch)).to(device)), y.slice(0, 0, kBatch).to(device))
      .item<double>();
}

// NHWC images with their channels reversed (RGB read as BGR).
Tensor bgr(const Tensor& nhwc) {
  const Tensor c = nhwc.contiguous();
  std::vector<float> v = c.to_vector<float>();
  for (std::size_t i = 0; i + 2 < v.size(); i += 3) std::swap(v[i], v[i + 2]);
  return from_vector(v, c.shape());
}

void causes(const Tensor& x, const Tensor& y) {
  std::cout << "\n=== 4. The seed's first-batch gap (4376.98 vs 4305.36: " << std::setprecision(2) << 100 * kSeedGap
            << "%): which causes can make one?\n";
  const nn::StateDict w = keras_weights();
  const double tf = first_loss(seed::Backend::TensorFlow, w, x, y);
  auto gap = [&](const std::string& what, double loss) {
    const double g = std::abs(loss - tf) / tf;
    std::ostringstream percent;  // small gaps in scientific notation: 1e-7 is not 0.000%
    if (g > 0 && g < 1e-4) percent << std::scientific << std::setprecision(1) << 100 * g;
    else percent << std::fixed << std::setprecision(3) << 100 * g;
    std::cout << "  " << std::left << std::setw(60) << what << std::right << std::setw(12) << std::fixed
              << std::setprecision(4) << loss << std::setw(10) << percent.str() << "%  "
              << (g > 0.3 * kSeedGap ? "can" : "cannot") << "\n";
  };
  std::cout << "  Theano-side first loss, vs TensorFlow's " << std::fixed << std::setprecision(4) << tf << ":\n";
  gap("Keras' load (kernels flipped once): the real setting", first_loss(seed::Backend::Theano, seed::theano_weights(w, kSize), x, y));
  nn::StateDict unflipped = seed::theano_weights(w, kSize);
  for (const char* k : {"0.kernel", "2.kernel"}) unflipped[k] = nn::flip_kernel(unflipped.at(k), KernelLayout::OIHW);
  gap("kernels not flipped on load (or flipped twice)", first_loss(seed::Backend::Theano, unflipped, x, y));
  // Another draw of the data: a library that takes numbers from NumPy's global RNG
  // on import shifts every draw of the script.
  const seed::Data other = seed::data(kBatch, kSize, 7);
  gap("different data (the RNG advanced before the script's draws)",
      first_loss(seed::Backend::TensorFlow, w, other.x, other.y));
  gap("channels order (RGB images read as BGR)",
      first_loss(seed::Backend::TensorFlow, w, bgr(x.slice(0, 0, kBatch)), y));
  {
    // Another algorithm for the same sums: the size of any GPU algorithm that
    // only reorders them (cuDNN's GEMM-like ones).
    CpuConvAlgorithmGuard onednn(CpuConvAlgorithm::OneDnn);
    if (cpu_conv_algorithm_used(kFloat32) == CpuConvAlgorithm::OneDnn) {
      gap("another convolution algorithm (oneDNN's, not im2col + GEMM)", first_loss(seed::Backend::TensorFlow, w, x, y));
    }
  }
  {
    // TF32 (Note [TF32 on the CPU]): an emulation on the CPU. TF32 came with
    // NVIDIA's Ampere GPUs in 2020; the seed's TensorFlow 1.2 (2017) had none.
    MathModeGuard tf32(MathMode::TF32);
    gap("TF32 (emulated on the CPU; no GPU had TF32 in 2017)", first_loss(seed::Backend::TensorFlow, w, x, y));
  }
  if (cuda::is_available()) {
    gap("on the GPU: cuDNN's deterministic algorithms, strict FP32",
        first_loss(seed::Backend::TensorFlow, w, x, y, Device::cuda(0)));
    {
      DeterministicGuard fastest(false);
      gap("on the GPU: cuDNN's fastest algorithms (timed, any)",
          first_loss(seed::Backend::TensorFlow, w, x, y, Device::cuda(0)));
    }
    MathModeGuard tf32(MathMode::TF32);
    gap("on the GPU: TF32 tensor cores", first_loss(seed::Backend::TensorFlow, w, x, y, Device::cuda(0)));
  } else {
    std::cout << "  On a GPU (none here) this section also measures cuDNN's algorithms and TF32 on the tensor cores.\n"
                 "  cuDNN's FFT and Winograd algorithms transform the operands; they are not emulated on the CPU.\n";
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string plot = "seed_lockstep.png", json = "seed_lockstep.json";
  bool with_race = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--plot" && i + 1 < argc) plot = argv[++i];
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--no-race") with_race = false;
    else throw Error("usage: example_seed [--plot FILE.png] [--json FILE.json] [--no-race]");
  }
  std::cout << "The seed (keras-team/keras#6694): Keras 2.0.4, one conv/dense model, the same weights, Theano vs\n"
               "TensorFlow; Adam and Adadelta part, SGD does not. Here at 24x24 on the CPU, from committed runs of\n"
               "the real Keras 2.0.4.\n";
  // Both of Keras' backends convolve as im2col + GEMM (Theano's CorrMM,
  // TensorFlow's Eigen patches and contraction): so does this replay.
  CpuConvAlgorithmGuard as_the_frameworks(CpuConvAlgorithm::Im2colGemm);
  std::cout << "CPU convolutions: " << cpu_conv_algorithm_used(kFloat32) << ", as both backends compute them\n";
  const Tensor x = file("x").to(kFloat32), y = file("y");
  real_keras(x, y);
  if (with_race) race(x, y);
  report(x, y, json, plot);
  causes(x, y);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "example_seed: " << e.what() << "\n";
  return 1;
}
