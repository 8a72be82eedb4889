// History: what fit() recorded, as Keras' History callback keeps it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace parity::train {

struct History {
  // Every batch of every epoch, in the order they ran: the loss the loss
  // function returned (read back as double) and the batch's number of samples.
  std::vector<double> batch_loss;
  std::vector<std::int64_t> batch_size;
  // Per epoch. loss is what Keras shows at the epoch's end: the running mean
  // sum(batch_loss * batch_size) / samples seen in that epoch.
  std::vector<double> loss;
  // Per epoch, when fit() was given validation data (else empty): the loss
  // over the validation set, as evaluate() computes it, after the epoch's last step.
  std::vector<double> val_loss;
  // Wall time of each epoch, in seconds (the epoch's batches and its validation).
  std::vector<double> epoch_seconds;
  // Per epoch, by name: each of FitOptions::metrics (the mean weighted by
  // batch size, as the bar's last value) and, with validation data, its
  // "val_" form over the validation set.
  std::map<std::string, std::vector<double>> metrics;

  // The number of epochs that ran (fewer than asked when a callback stopped training).
  int epochs() const { return static_cast<int>(loss.size()); }
};

}  // namespace parity::train
