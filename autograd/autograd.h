// Autograd: the umbrella header of the autograd layer (see docs/AUTOGRAD.md).
//
// The tape records every op whose inputs require grad (tensor/autograd_hook.h
// is the seam the tensor layer calls through); backward() walks it in reverse.
// autograd/gtest.h (GoogleTest helpers) is not included here.
#pragma once

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/tape.h"
