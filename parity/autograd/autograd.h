// Autograd: the umbrella header of the autograd layer (see docs/AUTOGRAD.md).
//
// The tape records every op whose inputs require grad (parity/tensor/autograd_hook.h
// is the seam the tensor layer calls through); backward() walks it in reverse.
// parity/autograd/gtest.h (GoogleTest helpers) is not included here.
#pragma once

#include "parity/autograd/anomaly.h"
#include "parity/autograd/engine.h"
#include "parity/autograd/function.h"
#include "parity/autograd/grad_mode.h"
#include "parity/autograd/gradcheck.h"
#include "parity/autograd/hooks.h"
#include "parity/autograd/indexing.h"
#include "parity/autograd/join.h"
#include "parity/autograd/node.h"
#include "parity/autograd/tape.h"
