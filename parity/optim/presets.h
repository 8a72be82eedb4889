// The named numerics presets: what each framework computes, as data (Note
// [Presets are data], parity/optim/numerics.h). docs/NUMERICS.md gives each one's
// update in exact order, its defaults, the source it follows, and how it was
// verified against tests/data/golden.
//
//   auto opt = optim::Adam(params, {}, optim::presets::keras2_theano);
//   optim::Preset mine = optim::presets::pytorch;      // a custom combination
//   mine.adam.body.m = optim::AdamM::Ema;
#pragma once

#include <string_view>
#include <vector>

#include "parity/optim/numerics.h"

namespace parity::optim::presets {

extern const Preset paper;                      // Kingma & Ba Alg. 1; Zeiler Alg. 1
extern const Preset keras2_theano;              // Keras 2.0.4 + Theano 0.9.0 (floatX=float32, CPU, g++ FMA)
extern const Preset keras2_theano_1_0_5;        // Keras 2.0.4 + Theano 1.0.5: other FMA contractions
extern const Preset keras2_tensorflow;          // Keras 2.0.4 + TensorFlow graph mode (race-free: t = old + 1)
extern const Preset keras2_tensorflow_t_ahead;  // the same with the iterations race resolved as t = new + 1
extern const Preset tf_raw;                     // TF raw ApplyAdam/ApplyAdadelta CPU kernels, TF1 beta powers
extern const Preset keras3_tf;                  // Keras 3, TensorFlow backend (tf.function, no XLA)
extern const Preset keras3_jax;                 // Keras 3, JAX backend (jax.jit, XLA:CPU)
extern const Preset keras3_torch;               // Keras 3, torch backend
extern const Preset keras3_eager;               // Keras 3, TF or JAX backend run eagerly, op by op
extern const Preset pytorch;                    // torch.optim, single-tensor (foreach=False), CPU
extern const Preset pytorch_foreach;            // torch.optim, foreach=True, CPU
extern const Preset pytorch_fused;              // torch.optim, fused=True, CPU
extern const Preset pytorch_1_13;               // torch.optim of PyTorch 1.13.1, single-tensor, CPU
extern const Preset pytorch_1_13_foreach;       // the same, foreach=True
extern const Preset optax;                      // optax under jax.jit (XLA:CPU)
extern const Preset optax_nojit;                // optax op by op (jax.disable_jit)
extern const Preset lasagne;                    // lasagne.updates (master), Theano floatX=float32
extern const Preset lasagne_0_1;                // Lasagne 0.1 (PyPI) on Theano 0.9.0, real traces
extern const Preset flashlight;                 // flashlight fl::AdamOptimizer / AdadeltaOptimizer

// Every named preset, in the order above.
const std::vector<const Preset*>& all();
// The preset of that name; throws parity::Error listing the names otherwise.
const Preset& by_name(std::string_view name);

}  // namespace parity::optim::presets
