// Checkpoints (parity/train/checkpoint.h): a run saved after 3 of 6 steps and
// resumed in a fresh model and optimizer (other initial weights, other seeds)
// ends with the same bits as the run that never stopped, for Adam with a
// Dropout layer whose mask generator must resume too; and every file that
// does not fit is refused without changing anything.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "reference.h"

namespace parity::testing {
namespace {

struct Training {
  std::shared_ptr<nn::Sequential> model;
  std::shared_ptr<nn::Dropout> dropout;
  std::unique_ptr<optim::Adam> adam;
};

Training make_run(std::uint64_t seed) {
  Training r;
  r.dropout = std::make_shared<nn::Dropout>(nn::DropoutOptions{.rate = 0.25, .seed = seed});
  r.model = std::make_shared<nn::Sequential>(std::make_shared<nn::Dense>(nn::DenseOptions{.units = 8, .activation = "relu"}),
                                             r.dropout, std::make_shared<nn::Dense>(nn::DenseOptions{.units = 2}));
  r.model->build({5}, {.seed = seed});
  r.adam = std::make_unique<optim::Adam>(r.model->parameters(), optim::AdamOptions{.lr = 0.01});
  return r;
}

void steps(Training& r, const Tensor& x, const Tensor& y, int from, int to) {
  for (int s = from; s < to; ++s) {
    train::train_step(*r.model, *r.adam, nn::losses::mse, x.narrow(0, 4 * s, 4), y.narrow(0, 4 * s, 4));
  }
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return a.shape() == b.shape() && std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

class Checkpoint : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return ::testing::TempDir() + "parity_checkpoint_" + name; }
};

TEST_F(Checkpoint, AResumedRunEndsWithTheBitsOfOneThatNeverStopped) {
  Generator gen(404);
  const Tensor x = randn({24, 5}, {}, 0.0, 1.0, &gen), y = randn({24, 2}, {}, 0.0, 1.0, &gen);
  Training straight = make_run(1);
  steps(straight, x, y, 0, 6);

  Training first = make_run(1);
  steps(first, x, y, 0, 3);
  train::save_checkpoint(path("resume.safetensors"), *first.model, *first.adam, 3, {&first.dropout->generator()});

  Training resumed = make_run(99);  // other weights, another dropout seed: all of it must come from the file
  const std::int64_t step = train::load_checkpoint(path("resume.safetensors"), *resumed.model, *resumed.adam,
                                                   {&resumed.dropout->generator()});
  EXPECT_EQ(step, 3);
  EXPECT_EQ(resumed.adam->steps(), 3);
  steps(resumed, x, y, 3, 6);
  const nn::StateDict want = straight.model->state_dict(), got = resumed.model->state_dict();
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, t] : want) EXPECT_TRUE(same_bits(got.at(name), t)) << name;
  // And the optimizer's moments.
  const optim::StateDict sw = straight.adam->state_dict(), sg = resumed.adam->state_dict();
  for (std::size_t p = 0; p < sw.groups[0].params.size(); ++p) {
    for (const auto& [key, t] : sw.groups[0].params[p].tensors) {
      EXPECT_TRUE(same_bits(sg.groups[0].params[p].tensors.at(key), t)) << "param " << p << " " << key;
    }
  }
  // Without the generator the masks would differ: the check above depends on it.
  Training no_generator = make_run(99);
  train::load_checkpoint(path("resume.safetensors"), *no_generator.model, *no_generator.adam,
                         {&no_generator.dropout->generator()});
  no_generator.dropout->generator().manual_seed(99);
  steps(no_generator, x, y, 3, 6);
  EXPECT_FALSE(same_bits(no_generator.model->state_dict().at("0.kernel"), want.at("0.kernel")));
}

TEST_F(Checkpoint, RefusesWhatDoesNotFitAndChangesNothing) {
  Training run = make_run(1);
  train::save_checkpoint(path("refuse.safetensors"), *run.model, *run.adam, 0, {&run.dropout->generator()});
  Training other = make_run(2);
  const Tensor before = other.model->state_dict().at("0.kernel").clone();
  // Another optimizer.
  optim::SGD sgd(other.model->parameters(), {.lr = 0.1});
  EXPECT_PARITY_ERROR(train::load_checkpoint(path("refuse.safetensors"), *other.model, sgd, {&other.dropout->generator()}),
                      {"load_state_dict", "Adam"});
  EXPECT_TRUE(same_bits(other.model->state_dict().at("0.kernel"), before)) << "the model is unchanged";
  // Another generator count.
  EXPECT_PARITY_ERROR(train::load_checkpoint(path("refuse.safetensors"), *other.model, *other.adam),
                      {"load_checkpoint:", "1 generator states", "passed 0"});
  // Another architecture.
  nn::Sequential wider{nn::Dense{{.units = 9}}};
  wider.build({5});
  optim::Adam wider_adam(wider.parameters());
  EXPECT_PARITY_ERROR(train::load_checkpoint(path("refuse.safetensors"), wider, wider_adam, {&other.dropout->generator()}),
                      {"load_checkpoint:", "model tensor 0.bias", "float32 [8] in the file", "float32 [9] in the model"});
  // A safetensors file that is not a checkpoint.
  io::save_safetensors(path("plain.safetensors"), other.model->state_dict());
  EXPECT_PARITY_ERROR(train::load_checkpoint(path("plain.safetensors"), *other.model, *other.adam),
                      {"load_checkpoint:", "not a checkpoint"});
}

}  // namespace
}  // namespace parity::testing
