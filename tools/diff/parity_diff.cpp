// parity-diff: the seed's model in two configurations, trained side by side from
// the same weights on the same batches, with the lockstep divergence report
// (parity/train/lockstep.h): where, when and why the two part.
//
//   parity-diff [--a tensorflow] [--b theano] [--optimizer adam|adadelta|sgd] [--lr X]
//               [--preset-a NAME] [--preset-b NAME] [--size 24] [--samples 256]
//               [--batch 64] [--steps 4] [--weights DIR] [--data DIR]
//               [--json report.json] [--plot report.png] [--free-only]
//               [--device-a cpu|cuda[:N]] [--math-a strict|tf32] [--conv-a onednn|im2col]
//               [--deterministic-a on|off]   (and the same four for B)
//
// Configurations: tensorflow (NHWC, HWIO, cross-correlation, keras2_tensorflow),
// theano (NCHW, OIHW, true convolution of the flipped kernels, keras2_theano),
// theano-unflipped (the same, kernels NOT flipped on load), theano-flipped-twice.
// --weights DIR: w0_0.npy ... w0_7.npy, the weights in Keras' get_weights order and
// TensorFlow's layout (tools/golden/keras2/seed_run.py writes them); default: Keras'
// initializers, seed 6. --data DIR: x.npy (NHWC) and y.npy; default: drawn like the seed's.
// --plot calls tools/diff/plot_divergence.py (python3 with matplotlib).
// Per side: the device the model trains on, its math mode (tf32 rounds matmul and
// convolution operands, on the CPU too: Note [TF32 on the CPU]), the CPU
// convolution algorithm and the deterministic flag; unset: the library's defaults
// (cpu, strict, onednn where built, on). The report states what each side ran.
#include <parity/parity.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "tools/seed/seed.h"
#include "parity/train/train.h"

#include <filesystem>
#include <fstream>

using namespace parity;

namespace {

struct Args {
  std::string a = "tensorflow", b = "theano", optimizer = "adam", preset_a, preset_b;
  std::string weights, data, json, plot;
  std::optional<double> lr;
  std::int64_t size = 24, samples = 256, batch = 64;
  int steps = 4;
  bool resync = true;
  Device device_a = Device::cpu(), device_b = Device::cpu();
  NumericsSettings numerics_a, numerics_b;
};

constexpr const char* kUsage =
    "usage: parity-diff [--a CONFIG] [--b CONFIG] [--optimizer adam|adadelta|sgd] [--lr X] [--preset-a NAME] "
    "[--preset-b NAME] [--size N] [--samples N] [--batch N] [--steps N] [--weights DIR] [--data DIR] "
    "[--json FILE] [--plot FILE.png] [--free-only] [--device-a cpu|cuda[:N]] [--math-a strict|tf32] "
    "[--conv-a onednn|im2col] [--deterministic-a on|off] (the same four with -b)\n  CONFIG: tensorflow | theano | "
    "theano-unflipped | theano-flipped-twice";

Device parse_device(const std::string& flag, const std::string& v) {
  if (v == "cpu") return Device::cpu();
  if (v == "cuda") return Device::cuda(0);
  if (v.rfind("cuda:", 0) == 0 && v.size() > 5 && v.find_first_not_of("0123456789", 5) == std::string::npos) {
    return Device::cuda(std::stoi(v.substr(5)));
  }
  PARITY_FAIL("parity-diff: ", flag, " '", v, "': expected cpu, cuda or cuda:N");
}

MathMode parse_math(const std::string& flag, const std::string& v) {
  if (v == "strict") return MathMode::StrictFP32;
  if (v == "tf32") return MathMode::TF32;
  PARITY_FAIL("parity-diff: ", flag, " '", v, "': expected strict or tf32");
}

CpuConvAlgorithm parse_conv(const std::string& flag, const std::string& v) {
  if (v == "onednn") return CpuConvAlgorithm::OneDnn;
  if (v == "im2col") return CpuConvAlgorithm::Im2colGemm;
  PARITY_FAIL("parity-diff: ", flag, " '", v, "': expected onednn or im2col");
}

bool parse_on_off(const std::string& flag, const std::string& v) {
  if (v == "on") return true;
  if (v == "off") return false;
  PARITY_FAIL("parity-diff: ", flag, " '", v, "': expected on or off");
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      PARITY_CHECK(i + 1 < argc, "parity-diff: missing value after ", flag, "\n", kUsage);
      return argv[++i];
    };
    if (flag == "--a") a.a = value();
    else if (flag == "--b") a.b = value();
    else if (flag == "--optimizer") a.optimizer = value();
    else if (flag == "--lr") a.lr = std::stod(value());
    else if (flag == "--preset-a") a.preset_a = value();
    else if (flag == "--preset-b") a.preset_b = value();
    else if (flag == "--size") a.size = std::stoll(value());
    else if (flag == "--samples") a.samples = std::stoll(value());
    else if (flag == "--batch") a.batch = std::stoll(value());
    else if (flag == "--steps") a.steps = std::stoi(value());
    else if (flag == "--weights") a.weights = value();
    else if (flag == "--data") a.data = value();
    else if (flag == "--json") a.json = value();
    else if (flag == "--plot") a.plot = value();
    else if (flag == "--free-only") a.resync = false;
    else if (flag == "--device-a") a.device_a = parse_device(flag, value());
    else if (flag == "--device-b") a.device_b = parse_device(flag, value());
    else if (flag == "--math-a") a.numerics_a.math_mode = parse_math(flag, value());
    else if (flag == "--math-b") a.numerics_b.math_mode = parse_math(flag, value());
    else if (flag == "--conv-a") a.numerics_a.cpu_conv_algorithm = parse_conv(flag, value());
    else if (flag == "--conv-b") a.numerics_b.cpu_conv_algorithm = parse_conv(flag, value());
    else if (flag == "--deterministic-a") a.numerics_a.deterministic = parse_on_off(flag, value());
    else if (flag == "--deterministic-b") a.numerics_b.deterministic = parse_on_off(flag, value());
    else if (flag == "--help" || flag == "-h") {
      std::cout << kUsage << "\n";
      std::exit(0);
    } else {
      PARITY_FAIL("parity-diff: unknown argument '", flag, "'\n", kUsage);
    }
  }
  return a;
}

struct Config {
  seed::Backend backend;
  int flips = 1;  // Theano: kernel flips applied on load (Keras applies 1)
};

Config config(const std::string& name) {
  if (name == "tensorflow") return {seed::Backend::TensorFlow, 0};
  if (name == "theano") return {seed::Backend::Theano, 1};
  if (name == "theano-unflipped") return {seed::Backend::Theano, 0};
  if (name == "theano-flipped-twice") return {seed::Backend::Theano, 2};
  PARITY_FAIL("parity-diff: unknown configuration '", name, "'\n", kUsage);
}

// The TF-layout weights as this configuration loads them.
nn::StateDict load_as(const Config& c, const nn::StateDict& tf, std::int64_t size) {
  if (c.backend == seed::Backend::TensorFlow) return tf;
  nn::StateDict d = seed::theano_weights(tf, size);  // one flip
  for (int f = 1; f != c.flips; f += c.flips > 1 ? 1 : -1) {
    for (const char* k : {"0.kernel", "2.kernel"}) d[k] = nn::flip_kernel(d.at(k), KernelLayout::OIHW);
  }
  return d;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const Args& a, std::vector<Tensor> params, const optim::Preset& p) {
  if (a.optimizer == "adam") return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions{.lr = a.lr}, p);
  if (a.optimizer == "adadelta") {
    return std::make_unique<optim::Adadelta>(std::move(params), optim::AdadeltaOptions{.lr = a.lr}, p);
  }
  if (a.optimizer == "sgd") {
    return std::make_unique<optim::SGD>(std::move(params), optim::SgdOptions{.lr = a.lr.value_or(1e-7)}, p);
  }
  PARITY_FAIL("parity-diff: unknown optimizer '", a.optimizer, "' (adam, adadelta or sgd)");
}

// The picture's script, found from this executable's own folder (no path of
// the build machine is compiled in): <prefix>/bin/../share/parity when
// installed, <build>/share/parity in a build tree (CMakeLists.txt copies it there).
std::string plot_script() {
  std::error_code error;
  const std::filesystem::path exe_dir = std::filesystem::read_symlink("/proc/self/exe", error).parent_path();
  std::string looked;
  for (const std::filesystem::path& dir : {exe_dir / ".." / "share" / "parity", exe_dir / "share" / "parity"}) {
    const std::filesystem::path path = (dir / "plot_divergence.py").lexically_normal();
    if (std::ifstream(path).good()) return path.string();
    looked += (looked.empty() ? "" : " nor at ") + path.string();
  }
  PARITY_FAIL("parity-diff: plot_divergence.py is neither at ", looked);
}

const optim::Preset& preset_for(const Config& c, const std::string& name) {
  if (!name.empty()) return optim::presets::by_name(name);
  return c.backend == seed::Backend::Theano ? optim::presets::keras2_theano : optim::presets::keras2_tensorflow;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  const Config ca = config(args.a), cb = config(args.b);
  PARITY_CHECK(ca.backend == seed::Backend::TensorFlow || ca.flips == 1,
               "parity-diff: --a is the reference: tensorflow or theano");

  nn::StateDict tf_weights;
  if (args.weights.empty()) {
    nn::Sequential init = seed::model();
    init.build(seed::input_shape(seed::Backend::TensorFlow, args.size), seed::build_options(seed::Backend::TensorFlow));
    tf_weights = init.state_dict();
  } else {
    const char* names[] = {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"};
    for (int k = 0; k < 8; ++k) tf_weights[names[k]] = io::load_npy(args.weights + "/w0_" + std::to_string(k) + ".npy");
  }
  Tensor x, y;
  if (args.data.empty()) {
    const seed::Data d = seed::data(args.samples, args.size);
    x = d.x;
    y = d.y;
  } else {
    x = io::load_npy(args.data + "/x.npy").to(kFloat32);
    y = io::load_npy(args.data + "/y.npy").to(kFloat32);
  }

  nn::Sequential ma = seed::model(), mb = seed::model();
  ma.build(seed::input_shape(ca.backend, args.size), seed::build_options(ca.backend));
  mb.build(seed::input_shape(cb.backend, args.size), seed::build_options(cb.backend));
  ma.load_state_dict(load_as(ca, tf_weights, args.size));
  mb.load_state_dict(load_as(cb, tf_weights, args.size));
  ma.to(args.device_a);
  mb.to(args.device_b);
  const auto oa = make_optimizer(args, ma.parameters(), preset_for(ca, args.preset_a));
  const auto ob = make_optimizer(args, mb.parameters(), preset_for(cb, args.preset_b));
  train::LockstepSide a = seed::lockstep_side(ca.backend, ma, *oa, args.size);
  train::LockstepSide b = seed::lockstep_side(cb.backend, mb, *ob, args.size);
  a.label = args.a + " (" + oa->preset().name + ")";
  b.label = args.b + " (" + ob->preset().name + ")";
  a.numerics = args.numerics_a;
  b.numerics = args.numerics_b;

  const train::DivergenceReport r = train::lockstep(
      a, b, x, y, {.steps = args.steps, .batch_size = args.batch, .resynced_pass = args.resync});
  std::cout << r.summary();
  if (!args.json.empty()) {
    r.write_json(args.json);
    std::cout << "report: " << args.json << "\n";
  }
  if (!args.plot.empty()) {
    PARITY_CHECK(!args.json.empty(), "parity-diff: --plot needs --json (the picture is drawn from the report)");
    // Debian's python3 (python3-matplotlib), else whichever python3 is first on the PATH.
    bool drawn = false;
    for (const char* python : {"/usr/bin/python3", "python3"}) {
      const std::string cmd = std::string(python) + " '" + plot_script() + "' '" + args.json + "' '" + args.plot + "'";
      if (std::system((cmd + " 2>/dev/null").c_str()) == 0) {
        drawn = true;
        break;
      }
    }
    if (!drawn) {
      std::cerr << "parity-diff: the picture needs python3 with matplotlib (apt-get install python3-matplotlib)\n";
      return 2;
    }
    std::cout << "picture: " << args.plot << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  const std::string what = e.what();
  std::cerr << (what.rfind("parity-diff:", 0) == 0 ? "" : "parity-diff: ") << what << "\n";
  return 1;
}
