// The TensorFlow race as it happens (parity/train/race.h, Note [The TF race]) against
// real raced runs of Keras 2.0.4 on TensorFlow 2.21 (tools/golden/keras2/
// seed_raced.py: the seed at 24x24, the same TF-saved weights and data as
// tests/test_seed_keras2.cpp, Keras' default session, 10 runs per optimizer).
// The search must find, for every recorded run, the schedules of late reads
// that reproduce its loss at every batch; the race-free schedule must give the
// sequential run (one TF thread), and t_ahead is the schedule "iterations late
// at every step".
#include <gtest/gtest.h>

#include <algorithm>
#include <parity/parity.h>

#include <iostream>
#include <algorithm>
#include <array>
#include <set>
#include <string>

#include "tools/seed/seed.h"
#include "parity/train/race.h"

namespace parity::testing {
namespace {

constexpr std::int64_t kSize = 24, kBatch = 64;

Tensor file(const std::string& name) {
  return io::load_npy(std::string(PARITY_TEST_DATA_DIR) + "/seed_keras2/" + name + ".npy");
}

void load_keras_weights(nn::Sequential& m) {
  const char* names[] = {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"};
  nn::StateDict d;
  for (int k = 0; k < 8; ++k) d[names[k]] = file("w0_" + std::to_string(k));
  m.load_state_dict(d);
}

nn::Sequential tf_model() {
  nn::Sequential m = seed::model();
  m.build(seed::input_shape(seed::Backend::TensorFlow, kSize), seed::build_options(seed::Backend::TensorFlow));
  return m;
}

train::OptimizerMaker maker(const std::string& name) {
  return [name](std::vector<Tensor> p) -> std::unique_ptr<optim::Optimizer> {
    if (name == "sgd") return seed::sgd(1e-7)(std::move(p), optim::presets::keras2_tensorflow);
    return seed::adam()(std::move(p), optim::presets::keras2_tensorflow);
  };
}

// Without late reads, the per-layer trainer is the ordered step: the sequential
// real run (tests/data/seed_keras2/tensorflow_<opt>_losses: one TF thread).
TEST(Race, InOrderScheduleIsTheSequentialRun) {
  for (const std::string opt : {"sgd", "adam"}) {
    nn::Sequential m = tf_model();
    load_keras_weights(m);
    train::RacedTrainer t(m, maker(opt));
    const Tensor x = file("x").to(kFloat32), y = file("y");
    const std::vector<float> want = file("tensorflow_" + opt + "_losses").to_vector<float>();
    for (std::size_t k = 0; k < want.size(); ++k) {
      const auto lo = static_cast<std::int64_t>(k) * kBatch;
      const double got = t.step(x.slice(0, lo, lo + kBatch), y.slice(0, lo, lo + kBatch), nn::losses::mse);
      EXPECT_NEAR(got, want[k], 1e-6 * want[k]) << opt << " batch " << k + 1;
    }
  }
}

// A recording of real raced runs: Keras' variables as TF 1.x made them
// (reference variables, assigned in place: "raced") or as resource variables
// (copy-on-write assigns: "raced_resource"), and the optimizer.
struct Recording {
  std::string prefix, opt;
};

class RealRacedRuns : public ::testing::TestWithParam<Recording> {};

// The whole-tensor late reads of every real run found, or the step and tensor
// where they cannot be.
std::vector<train::RaceSearch> search_recording(const Recording& rec, std::size_t* distinct_runs) {
  const std::string& opt = rec.opt;
  const Tensor runs = file(rec.prefix + "_" + opt + "_losses");
  EXPECT_EQ(runs.dim(), 2);
  const Tensor x = file("x").to(kFloat32), y = file("y");
  const Tensor sums = file(rec.prefix + "_" + opt + "_sums");  // [runs, steps, weights, 2]
  std::set<std::vector<float>> distinct;
  std::vector<std::vector<double>> real;
  std::vector<train::WeightSums> real_sums;
  for (std::int64_t r = 0; r < runs.size(0); ++r) {
    const std::vector<float> row = runs.select(0, r).to_vector<float>();
    if (!distinct.insert(row).second) continue;
    real.emplace_back(row.begin(), row.end());
    train::WeightSums ws;
    for (std::int64_t k = 0; k < sums.size(1); ++k) {
      std::vector<std::array<double, 2>> step;
      for (std::int64_t w = 0; w < sums.size(2); ++w) {
        const std::vector<double> v = sums.select(0, r).select(0, k).select(0, w).to_vector<double>();
        step.push_back({v[0], v[1]});
      }
      ws.push_back(std::move(step));
    }
    real_sums.push_back(std::move(ws));
  }
  *distinct_runs = real.size();
  // SGD without decay reads no step counter.
  return train::search_races(tf_model, maker(opt), load_keras_weights, x, y, kBatch, real, nn::losses::mse,
                             {.late_iterations = opt == "adam"}, &real_sums);
}

TEST_P(RealRacedRuns, SearchFindsTheirSchedulesOrTheStepItCannot) {
  CpuConvAlgorithmGuard as_tensorflow(CpuConvAlgorithm::Im2colGemm);  // as tests/test_seed_keras2.cpp
  const Recording rec = GetParam();
  const std::string& opt = rec.opt;
  const bool in_place = rec.prefix == "raced";
  std::size_t distinct = 0;
  const std::vector<train::RaceSearch> found = search_recording(rec, &distinct);
  if (in_place) {
    ASSERT_GE(distinct, 2u) << "the recorded runs show the race (Keras' default session)";
  } else {
    // Copy-on-write assigns: ten runs of Keras' default session, one outcome.
    ASSERT_EQ(distinct, 1u) << "resource variables: every run the same";
  }
  std::size_t reproduced = 0;
  for (std::size_t r = 0; r < found.size(); ++r) {
    std::cout << "[ raced run ] " << rec.prefix << " " << opt << " " << r << ": " << found[r].summary();
    if (!found[r].schedules.empty()) {
      ++reproduced;
    } else {
      // Not reproduced: the search names the step, the real and the closest loss,
      // and the tensor whose weights part most.
      EXPECT_GE(found[r].failed_step, 1) << "the first loss precedes any race";
      EXPECT_NE(found[r].real_loss, found[r].closest_loss);
      EXPECT_FALSE(found[r].failed_tensor.empty());
    }
  }
  std::cout << "[ raced run ] " << rec.prefix << " " << opt << ": " << reproduced << " of " << found.size()
            << " distinct real runs reproduced by whole-tensor late reads\n";
  // Measured (Intel Xeon, 2 cores): on a quiet machine SGD 4 of 10 and Adam 6 of
  // 8 runs reproduced; in the committed recording, made while another build
  // loaded the machine, SGD 1 of 10 and Adam 5 of 10. The others land between
  // the whole-tensor outcomes (e.g. 1441.24 where the schedules give 1441.12 or
  // 1441.25), mostly in the lowest layer's weights: as if a read saw part of an
  // update (TF shards a large assign across threads) - a hypothesis, not modelled.
  // With resource variables (copy-on-write) there is one outcome and it is found:
  // SGD in order, Adam with `iterations` late at every step.
  if (in_place) {
    EXPECT_GE(reproduced, 1u);
  } else {
    ASSERT_EQ(reproduced, found.size()) << "a read of a resource variable sees a whole update or none of it";
    // No late weights; Adam's counter read after its increment at every step (t_ahead).
    const train::RacedReads expected{.late_weights = {}, .late_iterations = opt == "adam"};
    bool found_expected = false;
    for (const train::RaceSchedule& schedule : found[0].schedules) {
      found_expected = found_expected || std::all_of(schedule.begin(), schedule.end(),
                                                     [&](const train::RacedReads& r) { return r == expected; });
    }
    EXPECT_TRUE(found_expected) << found[0].summary();
  }
}

INSTANTIATE_TEST_SUITE_P(Recordings, RealRacedRuns,
                         ::testing::Values(Recording{"raced", "sgd"}, Recording{"raced", "adam"},
                                           Recording{"raced_resource", "sgd"}, Recording{"raced_resource", "adam"}),
                         [](const auto& info) { return info.param.prefix + "_" + info.param.opt; });

// A run made with a known schedule is found by the search, and a run whose loss
// no schedule gives is located at its step (cheap enough for the sanitizer
// builds, which leave out the real runs above).
TEST(Race, SearchFindsAPlantedScheduleAndLocatesAnImpossibleRun) {
  const Tensor x = file("x").to(kFloat32), y = file("y");
  const train::RaceSchedule planted = {{.late_weights = {6}, .late_iterations = true}};
  std::vector<double> made;
  {
    nn::Sequential m = tf_model();
    load_keras_weights(m);
    train::RacedTrainer t(m, maker("adam"));
    for (std::size_t k = 0; k <= planted.size(); ++k) {
      const auto lo = static_cast<std::int64_t>(k) * kBatch;
      made.push_back(t.step(x.slice(0, lo, lo + kBatch), y.slice(0, lo, lo + kBatch), nn::losses::mse,
                            k < planted.size() ? planted[k] : train::RacedReads{}));
    }
  }
  std::vector<double> impossible = made;
  impossible[1] *= 1.01;
  const std::vector<train::RaceSearch> found = train::search_races(
      tf_model, maker("adam"), load_keras_weights, x, y, kBatch, {made, impossible}, nn::losses::mse);
  ASSERT_EQ(found.size(), 2u);
  ASSERT_FALSE(found[0].schedules.empty()) << found[0].summary();
  bool has_planted = false;
  for (const train::RaceSchedule& s : found[0].schedules) {
    ASSERT_EQ(s.size(), 1u);
    has_planted = has_planted || s[0] == planted[0];
  }
  EXPECT_TRUE(has_planted) << found[0].summary();
  EXPECT_TRUE(found[1].schedules.empty()) << found[1].summary();
  EXPECT_EQ(found[1].failed_step, 1);
  EXPECT_EQ(found[1].real_loss, impossible[1]);
  EXPECT_NE(found[1].closest_loss, impossible[1]);
}

// t_ahead (t read after its increment at every step) is one schedule.
TEST(Race, TAheadIsLateIterationsAtEveryStep) {
  nn::Sequential a = tf_model(), b = tf_model();
  load_keras_weights(a);
  load_keras_weights(b);
  train::RacedTrainer raced(a, maker("adam"));
  optim::Adam t_ahead(b.parameters(), {}, optim::presets::keras2_tensorflow_t_ahead);
  const Tensor x = file("x").to(kFloat32), y = file("y");
  for (int k = 0; k < 3; ++k) {
    const Tensor xb = x.slice(0, k * kBatch, (k + 1) * kBatch), yb = y.slice(0, k * kBatch, (k + 1) * kBatch);
    raced.step(xb, yb, nn::losses::mse, {.late_iterations = true});
    train::train_step(b, t_ahead, nn::losses::mse, xb, yb);
  }
  for (const auto& [name, w] : a.state_dict()) {
    EXPECT_EQ(max(abs(sub(w, b.state_dict().at(name)))).item<double>(), 0.0) << name;
  }
}

TEST(Race, RejectsALayerWithoutWeights) {
  nn::Sequential m = tf_model();
  train::RacedTrainer t(m, maker("sgd"));
  const Tensor x = file("x").to(kFloat32).slice(0, 0, kBatch), y = file("y").slice(0, 0, kBatch);
  EXPECT_THROW(t.step(x, y, nn::losses::mse, {.late_weights = {1}}), Error);  // a ReLU
  EXPECT_EQ(t.raceable_layers(), (std::vector<std::size_t>{2, 6, 8}));
}

}  // namespace
}  // namespace parity::testing
