// io/npy: reading files written by NumPy, and round trips.
#include <gtest/gtest.h>
#include <parity/parity.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/npy.h"

using namespace parity;

namespace {
std::string data(const std::string& name) { return std::string(PARITY_TEST_DATA_DIR) + "/npy/" + name; }
}  // namespace

TEST(Npy, ReadsFilesWrittenByNumPy) {
  const Tensor f = io::load_npy(data("f32_2x3.npy"));
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(f.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.0f, 4.0f, 5e-8f, -6e20f}));

  const Tensor fortran = io::load_npy(data("f64_fortran_2x3.npy"));
  EXPECT_EQ(fortran.shape(), (Shape{2, 3}));
  const std::vector<double> v = fortran.to_vector<double>();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], (i + 1) / 7.0) << i;

  const Tensor s = io::load_npy(data("i64_scalar.npy"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<std::int64_t>(), -42);

  EXPECT_EQ(io::load_npy(data("bool_4.npy")).to_vector<bool>(), (std::vector<bool>{true, false, false, true}));
  const Tensor u = io::load_npy(data("u8_2x2x2.npy"));
  EXPECT_EQ(u.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(u.to_vector<std::uint8_t>()[7], 7);
  const Tensor e = io::load_npy(data("i32_empty.npy"));
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_EQ(e.dtype(), kInt32);
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  const auto path = (std::filesystem::temp_directory_path() / "parity_npy_roundtrip.npy").string();
  manual_seed(static_cast<std::uint64_t>(std::random_device{}()));
  for (const Tensor& t : {randn({3, 4, 5}, {.dtype = kFloat64}), rand({7}), randint(-9, 9, {2, 3}),
                          randint(0, 200, {4, 1}, {.dtype = kUInt8}), randint(-5, 5, {}, {.dtype = kInt32}),
                          gt(randn({5}), 0.0f), randn({2, 3}).t()}) {
    io::save_npy(path, t);
    const Tensor back = io::load_npy(path);
    EXPECT_EQ(back.dtype(), t.dtype());
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(back.to_vector<double>(), t.to_vector<double>());
  }
  std::remove(path.c_str());
}

TEST(Npy, ErrorsNameTheFile) {
  try {
    io::load_npy(data("missing.npy"));
    FAIL() << "expected parity::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos) << e.what();
  }
  const auto path = (std::filesystem::temp_directory_path() / "parity_not_npy.npy").string();
  { std::ofstream(path) << "hello, not numpy"; }
  EXPECT_THROW(io::load_npy(path), Error);
  std::remove(path.c_str());
}
