// io/npy: reading files written by NumPy, round trips, and rejecting malformed (hostile) files.
#include <gtest/gtest.h>
#include <parity/parity.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "file_test_helpers.h"
#include "parity/io/npy.h"

using namespace parity;
using parity::testing::expect_error;
using parity::testing::expect_same_bits;

namespace {
std::string data(const std::string& name) { return std::string(PARITY_TEST_DATA_DIR) + "/npy/" + name; }

// The bytes of a .npy file: the preamble for format version major.0, the
// header dict padded as NumPy pads it, then `payload`.
std::string npy_bytes(const std::string& dict, const std::string& payload = "", int major = 1) {
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  header.append(63 - (8 + length_bytes + header.size()) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += {static_cast<char>(major), '\0'};
  for (std::size_t i = 0; i < length_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + payload;
}

std::string f4_dict(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

// A file of its own per test (ctest runs tests in parallel).
std::string temp_path() {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  return (std::filesystem::temp_directory_path() /
          ("parity_npy_" + test + "_" + std::to_string(getpid()) + ".npy"))
      .string();
}

// load_npy (from a file) and parse_npy (from memory) both reject `bytes`,
// naming the file and the problem, before allocating any tensor memory.
void expect_rejected(const std::string& bytes, const std::string& problem) {
  const std::string path = temp_path();
  { std::ofstream(path, std::ios::binary) << bytes; }
  const std::int64_t allocations = memory_stats().num_allocations;
  expect_error([&] { io::load_npy(path); }, path, problem);
  expect_error([&] { io::parse_npy(bytes, "bytes.npy"); }, "bytes.npy", problem);
  EXPECT_EQ(memory_stats().num_allocations, allocations) << "allocated before rejecting the file";
  std::remove(path.c_str());
}

// load_npy and parse_npy both read `bytes` as the same tensor.
Tensor expect_accepted(const std::string& bytes) {
  const std::string path = temp_path();
  { std::ofstream(path, std::ios::binary) << bytes; }
  const Tensor loaded = io::load_npy(path);
  std::remove(path.c_str());
  const Tensor parsed = io::parse_npy(bytes, "bytes.npy");
  EXPECT_EQ(parsed.shape(), loaded.shape());
  EXPECT_EQ(parsed.dtype(), loaded.dtype());
  EXPECT_EQ(parsed.to_vector<double>(), loaded.to_vector<double>());
  return loaded;
}
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
  EXPECT_EQ(u.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}));  // np.arange(8)
  const Tensor e = io::load_npy(data("i32_empty.npy"));
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_EQ(e.dtype(), kInt32);
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  const auto path = (std::filesystem::temp_directory_path() / "parity_npy_roundtrip.npy").string();
  // A fresh seed each run, printed so that a failure can be replayed (PARITY_TEST_SEED sets it).
  const char* env = std::getenv("PARITY_TEST_SEED");
  const std::uint64_t seed = env != nullptr && *env != '\0'
                                 ? std::strtoull(env, nullptr, 0)
                                 : static_cast<std::uint64_t>(std::random_device{}());
  SCOPED_TRACE("PARITY_TEST_SEED=" + std::to_string(seed));
  manual_seed(seed);
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

// The three hostile headers of the issue ("The seed explained", part 3): each
// was read before the fix, as 4 elements, as 0 elements, and by allocating 4 TB.
TEST(NpyHostile, NegativeDimension) {
  expect_rejected(npy_bytes(f4_dict("(-4,)"), std::string(16, '\0')), "shape has a negative dimension -4");
}

TEST(NpyHostile, ShapeWhoseByteSizeOverflows) {
  expect_rejected(npy_bytes(f4_dict("(4294967296, 4294967296, 4294967296)")), "is too large");
  // Like NumPy: even an empty array's non-zero dimensions must fit, or its strides would overflow.
  expect_rejected(npy_bytes(f4_dict("(0, 4294967296, 4294967296, 4294967296)")), "is too large");
  expect_rejected(npy_bytes(f4_dict("(3, 2305843009213693952)")), "is too large");  // 2^61 * 3 * 4 bytes
  expect_rejected(npy_bytes(f4_dict("(99999999999999999999,)")),
                  "shape has a dimension 99999999999999999999 that does not fit in int64");
}

TEST(NpyHostile, ShapeLargerThanTheFileIsRejectedBeforeAllocating) {
  expect_rejected(
      npy_bytes(f4_dict("(1000000000000,)"), std::string(16, '\0')),
      "truncated data: shape [1000000000000] of float32 needs 4000000000000 bytes, the file has 16");
}

TEST(NpyHostile, Preamble) {
  expect_rejected("", "not a .npy file");
  expect_rejected("hello, not numpy", "not a .npy file");
  expect_rejected(std::string("\x93NUMPY", 6), "truncated header: the file ends before the format version");
  expect_rejected(std::string("\x93NUMPY\x01\x00\x10", 9),
                  "truncated header: the file ends in the header length");
  expect_rejected(std::string("\x93NUMPY\x02\x00\x10\x00\x00", 11),
                  "truncated header: the file ends in the header length");
  std::string v4 = npy_bytes(f4_dict("(1,)"), std::string(4, '\0'));
  v4[6] = 4;
  expect_rejected(v4, "unsupported format version 4.0");
  std::string v1_1 = npy_bytes(f4_dict("(1,)"), std::string(4, '\0'));
  v1_1[7] = 1;
  expect_rejected(v1_1, "unsupported format version 1.1");
}

TEST(NpyHostile, HeaderLengthBeyondTheFile) {
  const std::string file = npy_bytes(f4_dict("(2,)"), std::string(8, '\0'));
  expect_rejected(file.substr(0, 40), "truncated header: the header length says 118 bytes, the file has 30");
  // Version 2.0's four length bytes say 4 GiB: not allocated, since the file is not that long.
  expect_rejected(std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14),
                  "truncated header: the header length says 4294967295 bytes, the file has 2");
}

TEST(NpyHostile, HeaderDict) {
  const auto with = [](const std::string& dict) { return npy_bytes(dict, std::string(4, '\0')); };
  expect_rejected(with("not a dict"), "bad header: expected '{', found 'n' at byte 0 of the header");
  expect_rejected(with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk"),
                  "bad header: 'j' at byte 58 of the header after the dict");
  expect_rejected(with("{'descr': '<f4', 'fortran_order': False,"),
                  "bad header: expected a key in quotes, found the end of the header");
  expect_rejected(with("{'descr': '<f4', 'fortran_order': False 'shape': (1,)}"), "bad header: expected '}'");
  expect_rejected(with("{'descr: '<f4'"), "bad header: expected ':'");
  expect_rejected(with("{'descr': '<f4"), "bad header: unterminated string");
  expect_rejected(with("{'descr': '<f4', 'fortran_order': False}"), "bad header: no 'shape' key");
  expect_rejected(with("{'fortran_order': False, 'shape': (1,)}"), "bad header: no 'descr' key");
  expect_rejected(with("{'descr': '<f4', 'shape': (1,)}"), "bad header: no 'fortran_order' key");
  expect_rejected(with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 0}"),
                  "bad header: unexpected key 'extra'");
  expect_rejected(with("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
                  "bad header: key 'descr' appears twice");
  // Hostile text is quoted in messages, short and printable.
  expect_rejected(with("{'\x01\xff" + std::string(100, 'k') + "': 0}"),
                  "unexpected key '\\x01\\xffkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
}

TEST(NpyHostile, DtypeAndOrder) {
  const auto with = [](const std::string& descr, const std::string& order) {
    return npy_bytes("{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': (1,), }",
                     std::string(4, '\0'));
  };
  expect_rejected(with("'>f4'", "False"), "unsupported dtype '>f4'");
  expect_rejected(with("'<c8'", "False"), "unsupported dtype '<c8'");
  expect_rejected(with("[('x', '<f4')]", "False"), "bad header: expected the descr in quotes, found '['");
  expect_rejected(with("'<f4'", "1"), "bad header: fortran_order is not True or False");
  expect_rejected(with("'<f4'", "true"), "bad header: fortran_order is not True or False");
}

TEST(NpyHostile, Shape) {
  const auto with = [](const std::string& shape) { return npy_bytes(f4_dict(shape), std::string(4, '\0')); };
  expect_rejected(with("[1]"), "bad header: expected '(', found '['");
  expect_rejected(with("(1.0,)"), "bad header: expected ')', found '.'");
  expect_rejected(with("(x,)"),
                  "bad header: expected a dimension (a non-negative integer) in the shape, found 'x'");
  expect_rejected(with("(,)"), "bad header: expected a dimension");
  expect_rejected(with("(1, 1, 1, 1, 1, 1, 1, 1, 1)"), "shape has more than 8 dimensions");
}

TEST(NpyHostile, DataSizeMustMatchTheShape) {
  expect_rejected(npy_bytes(f4_dict("(4,)"), std::string(15, '\0')),
                  "truncated data: shape [4] of float32 needs 16 bytes, the file has 15 after the header");
  // Trailing bytes are an error, not ignored as NumPy does (parity/io/npy.h).
  expect_rejected(
      npy_bytes(f4_dict("(3,)"), std::string(16, '\0')),
      "4 bytes after the array data (shape [3] of float32 needs 12; a .npy file holds one array)");
}

TEST(NpyHostile, BoolBytesAreZeroOrOne) {
  const std::string bytes =
      npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x02\x00", 3));
  const std::string path = temp_path();
  { std::ofstream(path, std::ios::binary) << bytes; }
  expect_error([&] { io::load_npy(path); }, path, "bool element 1 is the byte 2 (expected 0 or 1)");
  expect_error([&] { io::parse_npy(bytes, "bytes.npy"); }, "bytes.npy", "bool element 1 is the byte 2");
  std::remove(path.c_str());
}

TEST(NpyHostile, WhatNumPyMayWriteIsAccepted) {
  const std::string payload("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  for (int major : {1, 2, 3}) {
    EXPECT_EQ(expect_accepted(npy_bytes(f4_dict("(2,)"), payload, major)).to_vector<float>(),
              (std::vector<float>{1, 2}));
  }
  // Double quotes, other key orders, no trailing comma, no spaces, a 1-tuple without its comma.
  for (const std::string dict : {"{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}",
                                 "{'fortran_order':False,'shape':(2,1),'descr':'<f4'}",
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}"}) {
    EXPECT_EQ(expect_accepted(npy_bytes(dict, payload)).numel(), 2) << dict;
  }
  // An empty array needs no data, however large its other dimensions.
  const Tensor empty = expect_accepted(npy_bytes(f4_dict("(0, 1000000000000)")));
  EXPECT_EQ(empty.shape(), (Shape{0, 1000000000000}));
  // A Fortran-order array is read in C order.
  const Tensor f = expect_accepted(npy_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }",
                                             std::string("\0\1\2\3\4\5", 6)));
  EXPECT_EQ(f.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 2, 4, 1, 3, 5}));
}

// ---- Files written by NumPy (tools/npy_fixtures.py, which lists them) ----

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Same dtype, shape and bytes (NaN payloads and the sign of zero included).
::testing::AssertionResult same_array(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return ::testing::AssertionFailure() << "got " << got.dtype() << " " << to_string(got.shape())
                                         << ", expected " << want.dtype() << " " << to_string(want.shape());
  }
  const Tensor g = got.contiguous(), w = want.contiguous();
  if (g.nbytes() > 0 && std::memcmp(g.data_ptr(), w.data_ptr(), g.nbytes()) != 0) {
    return ::testing::AssertionFailure() << "the values differ";
  }
  return ::testing::AssertionSuccess();
}

struct Written {
  std::string name;
  Tensor values;  // what tools/npy_fixtures.py's WRITTEN holds under `name`
};

std::vector<Written> numpy_written() {
  const float fi = std::numeric_limits<float>::infinity(), fnan = std::numeric_limits<float>::quiet_NaN();
  const double di = std::numeric_limits<double>::infinity(), dnan = std::numeric_limits<double>::quiet_NaN();
  constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::uint8_t> twelve(12);
  for (int i = 0; i < 12; ++i) twelve[i] = static_cast<std::uint8_t>(i);
  return {
      {"np_f32_2x4.npy",
       from_vector<float>({0.0f, -0.0f, 1.5f, 1e-45f, fi, -fi, fnan, -std::numeric_limits<float>::max()},
                          {2, 4})},
      {"np_f64_5.npy",
       from_vector<double>({0.1, -2.5, dnan, 5e-324, std::numeric_limits<double>::max()}, {5})},
      {"np_f64_1.npy", from_vector<double>({3.0}, {1})},
      {"np_i32_2x2x2.npy",
       from_vector<std::int32_t>({std::numeric_limits<std::int32_t>::min(),
                                  std::numeric_limits<std::int32_t>::max(), 0, -1, 1, 2, 3, 4},
                                 {2, 2, 2})},
      {"np_i64_scalar.npy", from_vector<std::int64_t>({-kI64Max}, {})},
      {"np_u8_3x1.npy", from_vector<std::uint8_t>({0, 7, 255}, {3, 1})},
      {"np_bool_2x3.npy", from_vector<bool>({true, false, true, false, false, true}, {2, 3})},
      {"np_f32_0x4.npy", empty({0, 4})},
      {"np_u8_8d.npy", from_vector<std::uint8_t>(twelve, {1, 2, 1, 3, 1, 2, 1, 1})},
      {"np_u8_widest.npy", empty({0, 0, 0, 0, 0, 0, 0, kI64Max}, {.dtype = kUInt8})},
  };
}

}  // namespace

TEST(NpyNumPy, ReadsEveryValueOfEveryDtype) {
  for (const Written& w : numpy_written()) {
    SCOPED_TRACE(w.name);
    EXPECT_TRUE(same_array(io::load_npy(data(w.name)), w.values));
  }
}

// save_npy writes NumPy's bytes: the same header (dict, padding, version) and
// data. tools/npy_fixtures.py --check has NumPy load these files (with
// PARITY_NPY_EXPORT_DIR set, they are kept there under the fixture's name).
TEST(NpyNumPy, WritesTheBytesNumPyWrites) {
  const char* export_dir = std::getenv("PARITY_NPY_EXPORT_DIR");
  for (const Written& w : numpy_written()) {
    SCOPED_TRACE(w.name);
    const std::string path = export_dir != nullptr && *export_dir != '\0'
                                 ? std::string(export_dir) + "/" + w.name
                                 : temp_path() + "." + w.name;
    io::save_npy(path, w.values);
    const std::string got = read_bytes(path), want = read_bytes(data(w.name));
    if (export_dir == nullptr || *export_dir == '\0') std::remove(path.c_str());
    if (got == want) continue;
    std::size_t at = 0;
    while (at < std::min(got.size(), want.size()) && got[at] == want[at]) ++at;
    const auto header = [](const std::string& file) {
      return file.substr(0, std::min<std::size_t>(file.size(), 128));
    };
    ADD_FAILURE() << "the bytes differ from byte " << at << " (" << got.size() << " bytes written, NumPy's "
                  << want.size() << ")\n  written: " << header(got) << "\n  NumPy's: " << header(want);
  }
  // A transposed view is written as its values in C order, as NumPy writes a.T.copy().
  const Tensor t = from_vector<std::int32_t>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}).transpose(0, 2);
  const std::string path = temp_path();
  io::save_npy(path, t);
  EXPECT_TRUE(same_array(io::load_npy(path), t.contiguous()));
  std::remove(path.c_str());
}

// Versions 2.0 and 3.0 as NumPy writes them, and a 2.0 header longer than
// 1.0's 16-bit length can say (which NumPy itself reads only when its
// max_header_size is raised).
TEST(NpyNumPy, ReadsOtherVersionsAndAHeaderOver64KiB) {
  for (const char* name : {"np_v2_f32_2.npy", "np_v3_f32_2.npy"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(same_array(io::load_npy(data(name)), from_vector<float>({1, 2})));
  }
  const std::string bytes = read_bytes(data("np_v2_long_header.npy"));
  ASSERT_GT(bytes.size(), 70000u);
  // Version 2.0, and a header length (4 bytes, little-endian) past 65,535.
  EXPECT_EQ(bytes[6], 2);
  const std::uint32_t length = static_cast<unsigned char>(bytes[8]) |
                               static_cast<unsigned char>(bytes[9]) << 8 |
                               static_cast<unsigned char>(bytes[10]) << 16 |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[11])) << 24;
  EXPECT_GT(length, 65535u);
  EXPECT_EQ(length + 12 + 12, bytes.size());  // the preamble, the header, 3 floats
  EXPECT_TRUE(same_array(io::load_npy(data("np_v2_long_header.npy")), from_vector<float>({1, 2, 3})));
  EXPECT_TRUE(same_array(io::parse_npy(bytes, "long.npy"), from_vector<float>({1, 2, 3})));
}

TEST(NpyNumPy, BigEndianFilesAreRefusedByName) {
  expect_error([&] { io::load_npy(data("np_f32_big_endian.npy")); }, "np_f32_big_endian.npy",
               "unsupported dtype '>f4' (expected <f4, <f8, <i4, <i8, |u1 or |b1, little-endian)");
  expect_error([&] { io::load_npy(data("np_i64_big_endian.npy")); }, "np_i64_big_endian.npy",
               "unsupported dtype '>i8'");
}

// NumPy's files cut short anywhere: in the preamble, in the header, in the data.
TEST(NpyNumPy, TruncatedFilesAreRefused) {
  const std::string f32 = read_bytes(data("np_f32_2x4.npy"));  // 128 header bytes, 32 data bytes
  ASSERT_EQ(f32.size(), 160u);
  expect_rejected(f32.substr(0, 9), "truncated header: the file ends in the header length");
  expect_rejected(f32.substr(0, 100), "truncated header: the header length says 118 bytes, the file has 90");
  expect_rejected(f32.substr(0, 128),
                  "truncated data: shape [2, 4] of float32 needs 32 bytes, the file has 0");
  expect_rejected(f32.substr(0, 159),
                  "truncated data: shape [2, 4] of float32 needs 32 bytes, the file has 31");
  const std::string u8 = read_bytes(data("np_u8_3x1.npy"));
  expect_rejected(u8.substr(0, u8.size() - 1),
                  "truncated data: shape [3, 1] of uint8 needs 3 bytes, the file has 2");
  const std::string big = read_bytes(data("np_v2_long_header.npy"));
  expect_rejected(big.substr(0, 65536), "truncated header: the header length says 70068 bytes");
  expect_rejected(big.substr(0, big.size() - 4),
                  "truncated data: shape [3] of float32 needs 12 bytes, the file has 8");
}
