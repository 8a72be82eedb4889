// The progress bar fit() prints, as Keras 2 prints it, and the callback that
// drives it.
//
//   Epoch 1/3
//    64/256 [======>.......................] - ETA: 4s - loss: 4376.9785
//   256/256 [==============================] - 5s - loss: 2057485.4937 - val_loss: 1234.5678
//
// The bar is 30 characters: '=' for the part done, '>' at its head while the
// epoch runs, '.' for the rest; the count is right-aligned to the width of the
// total. Values are the running means fit() computed (this file only prints:
// the accumulators live in the loop), with 4 decimals, or in %.4e form when
// |value| <= 1e-3, as Keras formats them. The ETA is elapsed / seen * remaining,
// truncated to whole seconds: "4s", "1:02" above a minute, "1:00:05" above an hour.
//
// On a terminal the bar is redrawn in place ('\r', padded with spaces to erase
// what the previous line left), at most every 0.05 s, as Keras does. Anywhere
// else (a log file, a pipe, a string stream) each update would be a new line, so
// at most one line per tenth of the epoch is printed, plus the final line
// (keras-team/keras#13716, keras-team/keras#12860).
//
// The time source is a Clock (seconds from any origin), injectable so tests
// can check the output exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "parity/train/callbacks.h"

namespace parity::train {

// Seconds from an arbitrary origin; monotonic.
using Clock = std::function<double()>;
// std::chrono::steady_clock in seconds: the default Clock.
double steady_seconds();

// True when `out` is std::cout (std::cerr, std::clog) and that stream's file
// descriptor is a terminal.
bool is_terminal(const std::ostream& out);


// "4s", "1:02", "1:00:05" (whole seconds, truncated; 60 s is "60s").
std::string format_eta(double seconds);
// "0.2500", or "1.0000e-04" when |value| <= 1e-3; "nan", "inf", "-inf".
std::string format_value(double value);
// One line of the bar, without '\r' or '\n':
//   final = false: " 64/256 [======>.......................] - ETA: 4s - loss: 4376.9785"
//   final = true:  "256/256 [==============================] - 5s - loss: 2057485.4937"
// (seen, total, elapsed seconds); the ETA part is used only when !final and seen < total.
std::string format_progress(std::int64_t seen, std::int64_t total, double elapsed, const Metrics& metrics,
                            bool final, int width = 30);

struct ProgressOptions {
  int width = 30;          // characters between the brackets
  double interval = 0.05;  // terminal: the least time between two redraws, in seconds
  int lines = 10;          // not a terminal: at most this many lines per bar before the final one
};

// One epoch's bar over `total` samples. The clock starts at construction.
class ProgressBar {
 public:
  ProgressBar(std::int64_t total, std::ostream& out, bool terminal, Clock clock = {},
              ProgressOptions options = {});

  // Samples seen so far and the values to show; draws (throttled) while seen < total.
  void update(std::int64_t seen, const Metrics& metrics);
  // The final line, always drawn, with the elapsed time instead of the ETA, then
  // a newline. `seen` may be below total (training stopped early).
  void finish(std::int64_t seen, const Metrics& metrics);
  double elapsed() const;

 private:
  void draw(const std::string& line, bool end_line);

  std::int64_t total_;
  std::ostream& out_;
  bool terminal_;
  Clock clock_;
  ProgressOptions options_;
  double start_;
  double last_draw_ = 0;
  bool drawn_ = false;
  std::int64_t last_line_ = 0;  // not a terminal: the last tenth printed
  std::size_t previous_width_ = 0;
};

// The callback fit() adds when verbose > 0 (Keras' ProgbarLogger):
//   verbose 1: "Epoch 1/3", then the bar, updated after each batch, and its final
//              line with loss and val_loss;
//   verbose 2: "Epoch 1/3", then one line at the epoch's end: "5s - loss: 0.2500 - val_loss: 0.5000".
// With validation data it first prints "Train on 256 samples, validate on 64 samples".
class ProgbarLogger : public Callback {
 public:
  ProgbarLogger(int verbose, std::ostream& out, bool terminal, Clock clock = {},
                ProgressOptions options = {});

  void on_train_begin(const TrainInfo& info) override;
  void on_epoch_begin(int epoch) override;
  void on_batch_end(const BatchEnd& event) override;
  void on_epoch_end(const EpochEnd& event) override;

 private:
  int verbose_;
  std::ostream& out_;
  bool terminal_;
  Clock clock_;
  ProgressOptions options_;
  int epochs_ = 0;
  std::int64_t samples_ = 0;
  double epoch_start_ = 0;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace parity::train
