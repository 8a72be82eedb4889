#!/usr/bin/env bash
# Makes the Python environments that run Keras 2.0.4 itself (tools/golden/keras2/README.md):
#   .venv-theano        Keras 2.0.4 on Theano 0.9.0 (the seed's versions)
#   .venv-theano-1.0.5  Keras 2.0.4 on Theano 1.0.5
#   .venv-tf            Keras 2.0.4 on TensorFlow 2.21 (graph mode, tf.compat.v1)
# Idempotent; PyPI only. Needs python3.11, g++ and libopenblas-dev (scripts/setup).
set -euo pipefail
cd "$(dirname "$0")"
py=${PYTHON:-python3.11}

patch_keras() {  # keras/utils/conv_utils.py indexes with a list of slices (NumPy >= 1.23 refuses)
  local f="$1/lib/python3.11/site-packages/keras/utils/conv_utils.py"
  sed -i 's/return np.copy(kernel\[slices\])/return np.copy(kernel[tuple(slices)])/' "$f"
}

theano_env() {  # $1 dir, $2 theano version
  [[ -x "$1/bin/python" ]] || "$py" -m venv "$1"
  "$1/bin/pip" install -q "numpy<1.24" "scipy<1.11" "theano==$2" keras==2.0.4 h5py pyyaml six Lasagne==0.1
  patch_keras "$1"
}

theano_env .venv-theano 0.9.0
theano_env .venv-theano-1.0.5 1.0.5
[[ -x .venv-tf/bin/python ]] || "$py" -m venv .venv-tf
.venv-tf/bin/pip install -q tensorflow-cpu==2.21.0 h5py pyyaml six
.venv-tf/bin/pip install -q --no-deps keras==2.0.4
patch_keras .venv-tf
echo "keras2 environments ready: $(pwd)/.venv-theano .venv-theano-1.0.5 .venv-tf"
