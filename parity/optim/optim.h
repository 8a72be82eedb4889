// optim/: the optimizers and their numerics presets (one include for all).
#pragma once

#include "parity/optim/adadelta.h"
#include "parity/optim/adam.h"
#include "parity/optim/clip.h"
#include "parity/optim/numerics.h"
#include "parity/optim/optimizer.h"
#include "parity/optim/presets.h"
#include "parity/optim/sgd.h"
