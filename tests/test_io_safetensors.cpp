// io/safetensors: files written by the real `safetensors` package
// (tools/golden/make_weight_fixtures.py: tests/data/weights/), byte-identical
// writing, round trips, atomic writes, and rejecting malformed (hostile) files.
#include <gtest/gtest.h>
#include <parity/parity.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numbers>
#include <string>

#include "file_test_helpers.h"
#include "parity/io/atomic_file.h"
#include "parity/io/npy.h"
#include "parity/io/safetensors.h"
#include "tools/seed/seed.h"

using namespace parity;
using parity::testing::expect_error;
using parity::testing::expect_same_bits;

namespace {

std::string data(const std::string& name) { return std::string(PARITY_TEST_DATA_DIR) + "/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file of its own per test (ctest runs tests in parallel).
std::string temp_path(const std::string& suffix = ".safetensors") {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  return (std::filesystem::temp_directory_path() / ("parity_st_" + test + "_" + std::to_string(getpid()) + suffix))
      .string();
}

// The bytes of a safetensors file: the header's length, the header, the data.
std::string st_bytes(const std::string& header, const std::string& payload = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xff);
  return out + header + payload;
}

// load_safetensors (from a file) and parse_safetensors (from memory) both
// reject `bytes`, naming the file and the problem, before allocating any
// tensor memory (`allocates`: the check comes after the data is read).
void expect_rejected(const std::string& bytes, const std::string& problem, bool allocates = false) {
  const std::string path = temp_path();
  { std::ofstream(path, std::ios::binary) << bytes; }
  const std::int64_t allocations = memory_stats().num_allocations;
  expect_error([&] { io::load_safetensors(path); }, path, problem);
  expect_error([&] { io::parse_safetensors(bytes, "bytes.safetensors"); }, "bytes.safetensors", problem);
  if (!allocates) EXPECT_EQ(memory_stats().num_allocations, allocations) << "allocated before rejecting the file";
  std::remove(path.c_str());
}

std::string one_f32(const std::string& info) { return R"({"t":)" + info + "}"; }

}  // namespace

// The real package's file of every dtype Parity reads: values as written,
// and Parity writes the very same bytes.
TEST(Safetensors, ReadsTheRealPackagesDtypesAndWritesTheSameBytes) {
  const std::string path = data("weights/dtypes.safetensors");
  const io::SafeTensors st = io::load_safetensors(path);
  ASSERT_EQ(st.tensors.size(), 8u);
  EXPECT_TRUE(st.metadata.empty());
  const auto& t = st.tensors;
  EXPECT_EQ(t.at("f32").dtype(), kFloat32);
  EXPECT_EQ(t.at("f32").shape(), (Shape{2, 3}));
  const std::vector<float> f32 = t.at("f32").to_vector<float>();
  EXPECT_EQ(f32[0], 1.5f);
  EXPECT_TRUE(std::signbit(f32[1]) && f32[1] == 0.0f);
  EXPECT_TRUE(std::isinf(f32[2]));
  EXPECT_TRUE(std::isnan(f32[3]));
  EXPECT_EQ(f32[4], std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(t.at("f64").to_vector<double>(), (std::vector<double>{std::numbers::pi, -1e-310, 1152921504606846976.0}));
  EXPECT_EQ(t.at("i32").to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(), 0, 7,
                                       std::numeric_limits<std::int32_t>::max()}));
  EXPECT_EQ(t.at("i64").to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1,
                                       std::numeric_limits<std::int64_t>::max()}));
  EXPECT_EQ(t.at("u8").dtype(), kUInt8);
  EXPECT_EQ(t.at("u8").to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{0, 51, 102, 153, 204, 255}));
  EXPECT_EQ(t.at("bool").to_vector<bool>(), (std::vector<bool>{true, false, false, true, true}));
  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item<float>(), 42.0f);
  EXPECT_EQ(t.at("empty").shape(), (Shape{0, 3}));

  const std::string bytes = read_bytes(path);
  EXPECT_EQ(io::serialize_safetensors(st.tensors), bytes) << "Parity's writer differs from the package's";
  const io::SafeTensors parsed = io::parse_safetensors(bytes, "dtypes");
  for (const auto& [name, tensor] : st.tensors) expect_same_bits(parsed.tensors.at(name), tensor, name);
}

// The seed's weights (Keras 2.0.4's get_weights on TensorFlow), saved by the
// package with Parity's names: the npy arrays' bits, the model loads them.
TEST(Safetensors, TheSeedsWeightsFromThePackageAreTheNpyArraysBitForBit) {
  const std::string path = data("weights/seed.safetensors");
  const io::SafeTensors st = io::load_safetensors(path);
  const char* names[] = {"0.kernel", "0.bias", "2.kernel", "2.bias", "6.kernel", "6.bias", "8.kernel", "8.bias"};
  ASSERT_EQ(st.tensors.size(), 8u);
  for (int k = 0; k < 8; ++k) {
    const Tensor want = io::load_npy(data("seed_keras2/w0_" + std::to_string(k) + ".npy"));
    expect_same_bits(st.tensors.at(names[k]), want, names[k]);
  }
  EXPECT_EQ(st.metadata.at("source"), "tests/data/seed_keras2/w0_<k>.npy (Keras 2.0.4, NHWC, HWIO)");
  EXPECT_EQ(io::serialize_safetensors(st.tensors, st.metadata), read_bytes(path));

  nn::Sequential model = seed::model();
  model.build(seed::input_shape(seed::Backend::TensorFlow, 24), seed::build_options(seed::Backend::TensorFlow));
  model.load_state_dict(st.tensors);
  for (const auto& [name, p] : model.state_dict()) expect_same_bits(p, st.tensors.at(name), name);
}

TEST(Safetensors, RefusesDtypesParityDoesNotHaveByName) {
  const std::string path = data("weights/float16.safetensors");  // written by the package
  expect_error([&] { io::load_safetensors(path); }, path, "tensor 'half': unsupported dtype 'F16'");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"BF16","shape":[1],"data_offsets":[0,2]})"), "ab"),
                  "unsupported dtype 'BF16' (Parity reads F32, F64, I32, I64, U8 and BOOL)");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F31","shape":[1],"data_offsets":[0,4]})"), "abcd"),
                  "unknown dtype 'F31'");
}

TEST(Safetensors, RoundTripKeepsEveryBitAndTheMetadata) {
  Generator g(3);
  std::map<std::string, Tensor> tensors{
      {"w", randn({3, 4}, {}, 0.0, 1.0, &g)},
      {"w.t", randn({4, 3}, {}, 0.0, 1.0, &g).t()},  // not contiguous: written in C order
      {"d", randn({5}, {.dtype = kFloat64}, 0.0, 1.0, &g)},
      {"i", arange(6, {.dtype = kInt32}).view({2, 3})},
      {"l", arange(4, {.dtype = kInt64})},
      {"u", arange(3, {.dtype = kUInt8})},
      {"b", gt(arange(4), 1.0)},
      {"s", full({}, 2.5)},
      {"e", zeros({2, 0, 3})},
      {"\xc3\xa9t\xc3\xa9 \"quoted\"\n", ones({1})},  // UTF-8 and characters JSON escapes
  };
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "ünïcode \\ \""}};
  const std::string path = temp_path();
  io::save_safetensors(path, tensors, metadata);
  const io::SafeTensors back = io::load_safetensors(path);
  EXPECT_EQ(back.metadata, metadata);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) expect_same_bits(back.tensors.at(name), t.contiguous(), name);
  EXPECT_EQ(read_bytes(path), io::serialize_safetensors(tensors, metadata));
  // The reference layout: the header padded to 8 bytes, the data aligned.
  const std::string bytes = read_bytes(path);
  std::uint64_t n = 0;
  for (int i = 8; i-- > 0;) n = n << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  std::remove(path.c_str());
}

TEST(Safetensors, WriterRefusesWhatTheFormatCannotHold) {
  const std::string path = temp_path();
  expect_error([&] { io::save_safetensors(path, {{"__metadata__", ones({1})}}); }, path,
               "a tensor cannot be named __metadata__");
  expect_error([&] { io::save_safetensors(path, {{"\xff", ones({1})}}); }, path, "not valid UTF-8");
  expect_error([&] { io::save_safetensors(path, {{"x", Tensor()}}); }, path, "tensor 'x' is undefined");
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Writes go to a temporary file beside the destination, renamed over it: a
// failed write leaves the old file and no temporary file.
TEST(Safetensors, WritesAreAtomic) {
  const std::filesystem::path dir = temp_path(".d");
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  io::save_safetensors(path, {{"a", ones({2})}});
  const std::string before = read_bytes(path);
  expect_error(
      [&] {
        io::write_atomically(path, "test", [](const std::string& temp) {
          std::ofstream(temp, std::ios::binary) << "half a file";
          PARITY_FAIL("the disk is full");
        });
      },
      "", "the disk is full");
  EXPECT_EQ(read_bytes(path), before);
  io::save_safetensors(path, {{"b", zeros({3})}});
  EXPECT_EQ(io::load_safetensors(path).tensors.count("b"), 1u);
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "w.safetensors") << "left behind: " << entry.path();
  }
  EXPECT_EQ(files, 1u);
  // The permissions of a file created the ordinary way (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
  const std::string missing = (dir / "no" / "such" / "folder.safetensors").string();
  expect_error([&] { io::save_safetensors(missing, {{"a", ones({1})}}); }, missing,
               "cannot create a temporary file");
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, RejectsMalformedFiles) {
  const std::string ok = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, '\0');
  // The header's length.
  expect_rejected("", "truncated: the file has 0 bytes, fewer than the 8 of the header's length");
  expect_rejected(std::string("\x10\0\0", 3), "truncated: the file has 3 bytes");
  expect_rejected(st_bytes("{}").substr(0, 8) + "{", "truncated header: the header length says 2 bytes, the file has 1");
  expect_rejected(std::string("\0\0\0\0\0\0\0\x80", 8) + "{}",
                  "the header length 9223372036854775808 exceeds safetensors' limit of 100000000 bytes");
  // The JSON.
  expect_rejected(st_bytes(" {}"), "bad header: it does not start with '{'");
  expect_rejected(st_bytes(""), "bad header: it does not start with '{' (found nothing)");
  expect_rejected(st_bytes(R"({"t":)"), "bad header: not valid JSON");
  expect_rejected(st_bytes("{\"t\xff\":1}"), "bad header: not valid JSON");  // not UTF-8
  expect_rejected(st_bytes("{} x"), "bad header: not valid JSON");
  expect_rejected(st_bytes(R"({"t":)" + ok + R"(,"t":)" + ok + "}", eight), "key 't' appears twice in one object");
  expect_rejected(st_bytes(R"({"t":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight),
                  "key 'dtype' appears twice");
  expect_rejected(st_bytes(R"({"t":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", eight),
                  "values nested 4 deep");
  expect_rejected(st_bytes(R"({"t":1})"), "tensor 't': expected an object with dtype, shape and data_offsets");
  // A tensor's entry.
  expect_rejected(st_bytes(one_f32(R"({"shape":[2],"data_offsets":[0,8]})"), eight), "tensor 't': no 'dtype'");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2]})"), eight), "tensor 't': no 'data_offsets'");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1})"), eight),
                  "tensor 't': unexpected key 'x'");
  expect_rejected(st_bytes(one_f32(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), eight),
                  "dtype 4 is not a string");
  // Shapes: negative, not integers, too many dims, overflowing.
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), eight),
                  "tensor 't': dimension -2 is negative");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), eight),
                  "dimension 2.0 is not a non-negative integer");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"), eight),
                  "shape \"2\" is not an array");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]})"), eight),
                  "shape has 9 dimensions (a tensor has at most 8)");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})"),
                           eight),
                  "is too large (its size in bytes overflows int64)");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})")),
                  "is too large");  // even empty, as NumPy
  expect_rejected(st_bytes(one_f32(R"({"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,8]})"), eight),
                  "dimension 18446744073709551615 does not fit in int64");
  // data_offsets: their form, their span against the dtype's size, the data's bounds.
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"), eight),
                  "data_offsets [0] is not [begin, end]");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2],"data_offsets":[-1,7]})"), eight),
                  "data offset -1 is negative");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), eight),
                  "data_offsets [8, 0] end before they begin");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F64","shape":[2],"data_offsets":[0,8]})"), eight),
                  "data_offsets [0, 8] span 8 bytes, but shape [2] of F64 needs 16");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), eight),
                  "data_offsets [0, 16] go past the end of the data (8 bytes after the header: truncated file?)");
  expect_rejected(st_bytes(one_f32(R"({"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]})"),
                           eight),
                  "go past the end of the data");  // a huge tensor is checked before it is allocated
  // The tensors must tile the data.
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_rejected(st_bytes("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", eight + "1234"),
                  "tensor 'b': data_offsets [4, 12] overlap tensor 'a''s [0, 8]");
  expect_rejected(st_bytes("{" + a + R"(,"b":{"dtype":"U8","shape":[2],"data_offsets":[10,12]}})", eight + "1234"),
                  "bytes [8, 10) of the data belong to no tensor (a gap before tensor 'b')");
  expect_rejected(st_bytes(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", "1234"),
                  "bytes [0, 2) of the data belong to no tensor");
  expect_rejected(st_bytes("{" + a + "}", eight + "xyz"),
                  "3 bytes after the last tensor's data belong to no tensor");
  expect_rejected(st_bytes("{}", "x"), "1 bytes after the last tensor's data belong to no tensor");
  // Metadata, and names for messages.
  expect_rejected(st_bytes(R"({"__metadata__":{"a":1}})"), "__metadata__ 'a' is not a string: 1");
  expect_rejected(st_bytes(R"({"__metadata__":[]})"), "__metadata__ is not an object of strings");
  expect_rejected(st_bytes("{\"\\u0001\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,5]}}", "abcde"),
                  "tensor '\\x01': data_offsets [0, 5] span 5 bytes");
  // A bool byte must be 0 or 1 (found once the data is read).
  expect_rejected(st_bytes(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\1\2\0", 3)),
                  "tensor 'b': bool element 1 is the byte 2 (expected 0 or 1)", /*allocates=*/true);
  expect_error([] { io::load_safetensors("/no/such/file.safetensors"); }, "/no/such/file.safetensors",
               "cannot open");
}

TEST(Safetensors, AcceptsWhatTheReferenceAccepts) {
  // An empty file of tensors, a null __metadata__, header padding, empty and scalar tensors sharing an offset.
  EXPECT_TRUE(io::parse_safetensors(st_bytes("{}"), "empty").tensors.empty());
  EXPECT_TRUE(io::parse_safetensors(st_bytes(R"({"__metadata__":null}    )"), "null").metadata.empty());
  const io::SafeTensors st = io::parse_safetensors(
      st_bytes(R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
               R"("s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})",
               std::string("\x2a\0\0\0\0\0\0\0", 8)),
      "mixed");
  EXPECT_EQ(st.tensors.at("s").item<std::int64_t>(), 42);
  EXPECT_EQ(st.tensors.at("z").numel(), 0);
}
