// nn: modules, layers, initializers and losses.
#pragma once

#include "nn/activation.h"
#include "nn/conv2d.h"
#include "nn/convert.h"
#include "nn/dense.h"
#include "nn/flatten.h"
#include "nn/init.h"
#include "nn/losses.h"
#include "nn/module.h"
#include "nn/pooling.h"
#include "nn/sequential.h"
