// train/: the training loop layer (fit, evaluate, predict), batching and
// shuffling, callbacks, the history and the progress bar.
#pragma once

#include "train/batches.h"
#include "train/callbacks.h"
#include "train/fit.h"
#include "train/history.h"
#include "train/lockstep.h"
#include "train/race.h"
#include "train/progress.h"
