// optim/: the optimizers and their numerics presets (one include for all).
#pragma once

#include "optim/adadelta.h"
#include "optim/adam.h"
#include "optim/numerics.h"
#include "optim/optimizer.h"
#include "optim/presets.h"
#include "optim/sgd.h"
