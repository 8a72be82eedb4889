// The Keras-style progress bar (parity/train/progress.h). The formats follow
// keras/utils/generic_utils.py (Progbar.update) of Keras 2.0-2.2.
#include "parity/train/progress.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#if defined(_WIN32)
#include <io.h>
#define PARITY_ISATTY _isatty
#else
#include <unistd.h>
#define PARITY_ISATTY isatty
#endif

namespace parity::train {

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return PARITY_ISATTY(1) != 0;
  if (&out == &std::cerr || &out == &std::clog) return PARITY_ISATTY(2) != 0;
  return false;
}

namespace {

template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  if (n < static_cast<int>(sizeof buffer))
    return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(s.data(), s.size(), format, args...);
  s.resize(static_cast<std::size_t>(n));
  return s;
}

// Python's '%d' % seconds: truncated toward zero.
long long whole(double seconds) { return std::isfinite(seconds) ? static_cast<long long>(seconds) : 0; }

std::string metrics_text(const Metrics& metrics) {
  std::string s;
  for (const auto& [name, value] : metrics) s += " - " + name + ": " + format_value(value);
  return s;
}

}  // namespace

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = whole(seconds);
  if (seconds > 3600) return printf_string("%lld:%02lld:%02lld", s / 3600, (s % 3600) / 60, s % 60);
  if (seconds > 60) return printf_string("%lld:%02lld", s / 60, s % 60);
  return printf_string("%llds", s);
}

std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return printf_string(std::abs(value) > 1e-3 ? "%.4f" : "%.4e", value);
}

std::string format_progress(std::int64_t seen, std::int64_t total, double elapsed, const Metrics& metrics,
                            bool final, int width) {
  const int digits = static_cast<int>(std::to_string(total).size());
  std::string line = printf_string("%*lld/%*lld [", digits, static_cast<long long>(seen), digits,
                                   static_cast<long long>(total));
  const std::int64_t done =
      total > 0 ? std::min<std::int64_t>(width, std::max<std::int64_t>(0, seen) * width / total) : width;
  if (done > 0) {
    line.append(static_cast<std::size_t>(done - 1), '=');
    line += seen < total ? '>' : '=';
  }
  line.append(static_cast<std::size_t>(width - done), '.');
  line += ']';
  if (!final && seen < total) {
    const double eta =
        seen > 0 ? elapsed / static_cast<double>(seen) * static_cast<double>(total - seen) : 0.0;
    line += " - ETA: " + format_eta(eta);
  } else {
    line += printf_string(" - %llds", whole(elapsed));
  }
  return line + metrics_text(metrics);
}

// ---- ProgressBar ----

ProgressBar::ProgressBar(std::int64_t total, std::ostream& out, bool terminal, Clock clock,
                         ProgressOptions options)
    : total_(total),
      out_(out),
      terminal_(terminal),
      clock_(clock ? std::move(clock) : Clock(steady_seconds)),
      options_(options),
      start_(clock_()) {}

double ProgressBar::elapsed() const { return clock_() - start_; }

void ProgressBar::draw(const std::string& line, bool end_line) {
  if (terminal_) {
    out_ << '\r' << line;
    if (line.size() < previous_width_) out_ << std::string(previous_width_ - line.size(), ' ');
    previous_width_ = line.size();
    if (end_line) {
      out_ << '\n';
      previous_width_ = 0;
    }
  } else {
    out_ << line << '\n';
  }
  out_.flush();
}

void ProgressBar::update(std::int64_t seen, const Metrics& metrics) {
  if (seen >= total_) return;  // the final line is finish()'s
  const double now = clock_();
  if (terminal_) {
    if (drawn_ && now - last_draw_ < options_.interval) return;
  } else {
    const std::int64_t tenth = total_ > 0 ? seen * options_.lines / total_ : 0;
    if (tenth <= last_line_) return;
    last_line_ = tenth;
  }
  draw(format_progress(seen, total_, now - start_, metrics, false, options_.width), false);
  drawn_ = true;
  last_draw_ = now;
}

void ProgressBar::finish(std::int64_t seen, const Metrics& metrics) {
  draw(format_progress(seen, total_, clock_() - start_, metrics, true, options_.width), true);
}

// ---- ProgbarLogger ----

ProgbarLogger::ProgbarLogger(int verbose, std::ostream& out, bool terminal, Clock clock,
                             ProgressOptions options)
    : verbose_(verbose),
      out_(out),
      terminal_(terminal),
      clock_(clock ? std::move(clock) : Clock(steady_seconds)),
      options_(options) {}

void ProgbarLogger::on_train_begin(const TrainInfo& info) {
  epochs_ = info.epochs;
  samples_ = info.samples;
  if (verbose_ > 0 && info.validation_samples > 0) {
    out_ << "Train on " << info.samples << " samples, validate on " << info.validation_samples
         << " samples\n";
    out_.flush();
  }
}

void ProgbarLogger::on_epoch_begin(int epoch) {
  if (verbose_ <= 0) return;
  out_ << "Epoch " << epoch + 1 << '/' << epochs_ << '\n';
  out_.flush();
  epoch_start_ = clock_();
  if (verbose_ == 1) bar_ = std::make_unique<ProgressBar>(samples_, out_, terminal_, clock_, options_);
}

void ProgbarLogger::on_batch_end(const BatchEnd& event) {
  if (!bar_) return;
  Metrics metrics{{"loss", event.mean_loss}};
  metrics.insert(metrics.end(), event.metrics.begin(), event.metrics.end());
  bar_->update(event.seen, metrics);
}

void ProgbarLogger::on_epoch_end(const EpochEnd& event) {
  if (verbose_ <= 0) return;
  // Keras' order: loss, the metrics, val_loss, the val_ metrics.
  Metrics metrics{{"loss", event.loss}};
  for (const auto& entry : event.metrics) {
    if (entry.first.rfind("val_", 0) != 0) metrics.push_back(entry);
  }
  if (event.val_loss) metrics.emplace_back("val_loss", *event.val_loss);
  for (const auto& entry : event.metrics) {
    if (entry.first.rfind("val_", 0) == 0) metrics.push_back(entry);
  }
  if (bar_) {
    bar_->finish(event.seen, metrics);
    bar_.reset();
  } else {
    out_ << printf_string("%llds", whole(clock_() - epoch_start_)) << metrics_text(metrics) << '\n';
    out_.flush();
  }
}

}  // namespace parity::train
