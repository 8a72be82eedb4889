// train/: the training loop layer (fit, evaluate, predict), batching and
// shuffling, callbacks, the history and the progress bar.
#pragma once

#include "parity/train/batches.h"
#include "parity/train/callbacks.h"
#include "parity/train/checkpoint.h"
#include "parity/train/fit.h"
#include "parity/train/history.h"
#include "parity/train/lockstep.h"
#include "parity/train/metrics.h"
#include "parity/train/race.h"
#include "parity/train/progress.h"
