// nn: modules, layers, initializers and losses.
#pragma once

#include "parity/nn/activation.h"
#include "parity/nn/conv2d.h"
#include "parity/nn/convert.h"
#include "parity/nn/dense.h"
#include "parity/nn/embedding.h"
#include "parity/nn/flatten.h"
#include "parity/nn/init.h"
#include "parity/nn/losses.h"
#include "parity/nn/module.h"
#include "parity/nn/normalization.h"
#include "parity/nn/pooling.h"
#include "parity/nn/sequential.h"
#include "parity/nn/summary.h"
