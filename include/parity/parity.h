// Parity: the umbrella header. `#include <parity/parity.h>` brings in the whole
// public API.
#pragma once

#include "tensor/allocator.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/factories.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/scalar.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"
#include "tensor/memory.h"
#include "tensor/context.h"
#include "tensor/window.h"
#include "tensor/conv.h"
#include "tensor/pool.h"
#include "cuda/api.h"
#include "autograd/autograd.h"
#include "io/npy.h"
#include "nn/nn.h"
#include "optim/optim.h"
