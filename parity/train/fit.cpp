// fit, train_step, evaluate, predict (parity/train/fit.h).
#include "parity/train/fit.h"

#include <algorithm>
#include <string>

#include "parity/autograd/grad_mode.h"
#include "parity/tensor/error.h"
#include "parity/tensor/factories.h"
#include "parity/tensor/shape.h"
#include "parity/train/batches.h"

namespace parity::train {

namespace {

// Sets the model's mode for a scope and restores the previous one (also when
// an exception leaves the scope). Module::train(bool) sets a whole tree, so a
// tree whose children were in mixed modes comes back uniform.
class ModeGuard {
 public:
  ModeGuard(nn::Module& model, bool training) : model_(model), previous_(model.is_training()) {
    model_.train(training);
  }
  ~ModeGuard() { model_.train(previous_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& model_;
  bool previous_;
};

void check_samples(const char* op, const char* what, const Tensor& t) {
  PARITY_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
  PARITY_CHECK(t.dim() >= 1, op, ": ", what, " must have at least one dim (the samples), got a 0-d tensor");
}

void check_data(const char* op, const Tensor& x, const Tensor& y, std::int64_t batch_size,
                const char* x_name = "x", const char* y_name = "y") {
  check_samples(op, x_name, x);
  check_samples(op, y_name, y);
  PARITY_CHECK(x.size(0) == y.size(0), op, ": ", x_name, " and ", y_name,
               " must have the same number of samples (first dim), got ", x_name, " ", to_string(x.shape()),
               " and ", y_name, " ", to_string(y.shape()));
  PARITY_CHECK(x.size(0) > 0, op, ": ", x_name, " has no samples (shape ", to_string(x.shape()), ")");
  PARITY_CHECK(batch_size >= 1, op, ": batch_size must be >= 1, got ", batch_size);
}

// Where a batch must go: the model's device, or the batch's own when the model
// is not built yet (its first call builds it there).
Device model_device(const nn::Module& model, const Tensor& batch) {
  return model.built() ? model.device() : batch.device();
}

double loss_value(const char* op, const Tensor& loss, const Tensor& predictions, const Tensor& targets) {
  PARITY_CHECK(loss.defined(), op, ": the loss function returned an undefined tensor");
  PARITY_CHECK(loss.numel() == 1, op, ": the loss function must return one element, got shape ",
               to_string(loss.shape()), " for predictions ", to_string(predictions.shape()), " and targets ",
               to_string(targets.shape()));
  return loss.item<double>();
}

StepResult step(const char* op, nn::Module& model, optim::Optimizer& optimizer, const nn::Loss& loss_fn,
                const Tensor& xb, const Tensor& yb) {
  StepResult r;
  const Device device = model_device(model, xb);
  r.x = xb.to(device);
  r.y = yb.to(device);
  optimizer.zero_grad();
  r.predictions = model(r.x);
  r.loss = loss_fn(r.predictions, r.y);
  r.loss_value = loss_value(op, r.loss, r.predictions, r.y);
  r.loss.backward();
  optimizer.step();
  return r;
}

// Running means weighted by batch size: the loss's and each metric's.
struct Means {
  explicit Means(std::size_t metrics) : metric_sums(metrics, 0.0) {}
  double loss_sum = 0;
  std::vector<double> metric_sums;
  std::int64_t seen = 0;

  void add(double loss, const std::vector<Metric>& metrics, const Tensor& predictions, const Tensor& targets,
           std::int64_t size) {
    const auto w = static_cast<double>(size);
    loss_sum += loss * w;
    if (!metrics.empty()) {
      autograd::NoGradGuard no_grad;
      for (std::size_t m = 0; m < metrics.size(); ++m) metric_sums[m] += metrics[m].fn(predictions, targets) * w;
    }
    seen += size;
  }
  double loss() const { return loss_sum / static_cast<double>(seen); }
  // {name, mean} of each metric, the names prefixed.
  Metrics metric_means(const std::vector<Metric>& metrics, const std::string& prefix = "") const {
    Metrics out;
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      out.emplace_back(prefix + metrics[m].name, metric_sums[m] / static_cast<double>(seen));
    }
    return out;
  }
};

Means evaluate_impl(const char* op, nn::Module& model, const nn::Loss& loss_fn, const std::vector<Metric>& metrics,
                    const Tensor& x, const Tensor& y, std::int64_t batch_size) {
  ModeGuard mode(model, false);
  autograd::NoGradGuard no_grad;
  Means means(metrics.size());
  for (const Batch& b : batches(x, y, batch_size)) {
    const Device device = model_device(model, b.x);
    const Tensor yb = b.y.to(device);
    const Tensor predictions = model(b.x.to(device));
    const Tensor loss = loss_fn(predictions, yb);
    means.add(loss_value(op, loss, predictions, yb), metrics, predictions, yb, b.size());
  }
  return means;
}

}  // namespace

StepResult train_step(nn::Module& model, optim::Optimizer& optimizer, const nn::Loss& loss, const Tensor& xb,
                      const Tensor& yb) {
  check_samples("train_step", "x", xb);
  check_samples("train_step", "y", yb);
  return step("train_step", model, optimizer, loss, xb, yb);
}

History fit(nn::Module& model, optim::Optimizer& optimizer, const nn::Loss& loss, const Tensor& x,
            const Tensor& y, const FitOptions& options) {
  check_data("fit", x, y, options.batch_size);
  PARITY_CHECK(options.epochs >= 0, "fit: epochs must be >= 0, got ", options.epochs);
  PARITY_CHECK(options.verbose >= 0 && options.verbose <= 2,
               "fit: verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got ",
               options.verbose);
  PARITY_CHECK(static_cast<bool>(loss), "fit: the loss function is empty");
  const std::pair<Tensor, Tensor>* validation = options.validation_data ? &*options.validation_data : nullptr;
  if (validation != nullptr) {
    check_data("fit", validation->first, validation->second, options.batch_size, "validation x",
               "validation y");
  }
  std::vector<std::shared_ptr<Callback>> callbacks;
  for (const auto& callback : options.callbacks) {
    PARITY_CHECK(callback != nullptr, "fit: callbacks[", callbacks.size(), "] is null");
    callbacks.push_back(callback);
  }
  const Clock clock = options.clock ? options.clock : Clock(steady_seconds);
  if (options.verbose > 0 && options.out != nullptr) {
    callbacks.push_back(
        std::make_shared<ProgbarLogger>(options.verbose, *options.out, is_terminal(*options.out), clock));
  }

  const std::int64_t n = x.size(0);
  const std::int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  History history;
  bool stop = false;
  ModeGuard mode(model, true);

  const TrainInfo info{.epochs = options.epochs,
                       .samples = n,
                       .batch_size = options.batch_size,
                       .steps_per_epoch = steps_per_epoch,
                       .validation_samples = validation != nullptr ? validation->first.size(0) : 0,
                       .model = model,
                       .optimizer = optimizer,
                       .stop_training = stop};
  for (const auto& callback : callbacks) callback->on_train_begin(info);

  std::int64_t step_index = 0;
  for (int epoch = 0; epoch < options.epochs && !stop; ++epoch) {
    const double epoch_start = clock();
    for (const auto& callback : callbacks) callback->on_epoch_begin(epoch);
    const Batches range = options.shuffle
                              ? batches(x, y, options.batch_size,
                                        permutation(n, options.seed, static_cast<std::uint64_t>(epoch)))
                              : batches(x, y, options.batch_size);
    Means means(options.metrics.size());
    std::int64_t ran = 0;
    for (std::int64_t b = 0; b < range.size(); ++b) {
      for (const auto& callback : callbacks) callback->on_batch_begin(epoch, b);
      const Batch batch = range[b];
      const StepResult r = step("fit", model, optimizer, loss, batch.x, batch.y);
      const std::int64_t size = batch.size();
      means.add(r.loss_value, options.metrics, r.predictions, r.y, size);
      ++ran;
      const Metrics running = means.metric_means(options.metrics);
      history.batch_loss.push_back(r.loss_value);
      history.batch_size.push_back(size);
      const BatchEnd event{.epoch = epoch,
                           .batch = b,
                           .step = step_index++,
                           .batch_size = size,
                           .seen = means.seen,
                           .loss = r.loss_value,
                           .mean_loss = means.loss(),
                           .x = r.x,
                           .y = r.y,
                           .predictions = r.predictions,
                           .loss_tensor = r.loss,
                           .model = model,
                           .optimizer = optimizer,
                           .stop_training = stop,
                           .metrics = running};
      for (const auto& callback : callbacks) callback->on_batch_end(event);
      if (stop) break;
    }
    const double epoch_loss = means.loss();
    Metrics epoch_metrics = means.metric_means(options.metrics);
    std::optional<double> val_loss;
    if (validation != nullptr) {
      const Means val = evaluate_impl("fit", model, loss, options.metrics, validation->first, validation->second,
                                      options.batch_size);
      val_loss = val.loss();
      for (auto& entry : val.metric_means(options.metrics, "val_")) epoch_metrics.push_back(std::move(entry));
    }
    for (const auto& [name, value] : epoch_metrics) history.metrics[name].push_back(value);
    const double seconds = clock() - epoch_start;
    history.loss.push_back(epoch_loss);
    if (val_loss) history.val_loss.push_back(*val_loss);
    history.epoch_seconds.push_back(seconds);
    const EpochEnd event{.epoch = epoch,
                         .batches = ran,
                         .seen = means.seen,
                         .loss = epoch_loss,
                         .val_loss = val_loss,
                         .seconds = seconds,
                         .model = model,
                         .optimizer = optimizer,
                         .history = history,
                         .stop_training = stop,
                         .metrics = epoch_metrics};
    for (const auto& callback : callbacks) callback->on_epoch_end(event);
  }
  for (const auto& callback : callbacks) callback->on_train_end(history);
  return history;
}

double evaluate(nn::Module& model, const nn::Loss& loss, const Tensor& x, const Tensor& y,
                std::int64_t batch_size) {
  check_data("evaluate", x, y, batch_size);
  PARITY_CHECK(static_cast<bool>(loss), "evaluate: the loss function is empty");
  return evaluate_impl("evaluate", model, loss, {}, x, y, batch_size).loss();
}

Tensor predict(nn::Module& model, const Tensor& x, std::int64_t batch_size) {
  check_samples("predict", "x", x);
  PARITY_CHECK(batch_size >= 1, "predict: batch_size must be >= 1, got ", batch_size);
  ModeGuard mode(model, false);
  autograd::NoGradGuard no_grad;
  const std::int64_t n = x.size(0);
  if (n == 0) {
    PARITY_CHECK(model.built(), "predict: x has no samples (shape ", to_string(x.shape()),
                 ") and the model is not built, so the output shape is unknown");
    Shape shape{0};
    for (std::int64_t d : model.output_shape()) shape.push_back(d);
    return empty(shape, {.dtype = model.build_options().dtype, .device = model.device()});
  }
  const Batches range = batches(x, batch_size);
  Tensor out;
  for (std::int64_t b = 0; b < range.size(); ++b) {
    const Batch batch = range[b];
    Tensor p = model(batch.x.to(model_device(model, batch.x)));
    PARITY_CHECK(p.dim() >= 1 && p.size(0) == batch.size(), "predict: the model returned shape ",
                 to_string(p.shape()), " for a batch of shape ", to_string(batch.x.shape()),
                 "; expected a first dim of ", batch.size());
    if (range.size() == 1) return p;  // one batch: its output is the result
    if (!out.defined()) {
      Shape shape = p.shape();
      shape[0] = n;
      out = empty(shape, {.dtype = p.dtype(), .device = p.device()});
    }
    PARITY_CHECK(p.dtype() == out.dtype() && std::equal(p.shape().begin() + 1, p.shape().end(),
                                                        out.shape().begin() + 1, out.shape().end()),
                 "predict: batch ", b, " gave shape ", to_string(p.shape()), " (", p.dtype(),
                 "), unlike the first batch's output ", to_string(out.shape()), " (", out.dtype(), ")");
    out.narrow(0, range.batch_start(b), batch.size()).copy_(p);
  }
  return out;
}

}  // namespace parity::train
