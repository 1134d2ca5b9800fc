// .npy header parser, integer decoding and int32 writer: headers numpy writes (versions 1.0, 2.0, 3.0, every
// integer dtype, both byte orders) read exactly; rosetta's int32 files read by numpy; hostile headers (bad
// magic or version, lying lengths, missing, extra or duplicate keys, structured dtypes, code instead of a
// literal, malformed shapes, element-count overflow) each one InputError line naming the source and offset.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "datasets/npy.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::expect_message;
using testing::input_error;
using testing::TempDir;

// A version-1.0 .npy whose header text is `dict` (padded as numpy pads it) followed by `data`.
std::string npy_with_header(const std::string& dict, const std::string& data = "", int major = 1) {
  std::string text = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text + data;
}

NpyHeader parse(const std::string& bytes) {
  return parse_npy_header(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "t.npy");
}
std::string error_of(const std::string& bytes) {
  return input_error([&] { parse(bytes); });
}
std::vector<std::int64_t> ints_of(const std::string& bytes) {
  const NpyHeader h = parse(bytes);
  return read_npy_ints(h, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "t.npy");
}

TEST(Npy, ParsesNumpysHeaderSpellings) {
  NpyHeader h = parse(npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", std::string(24, '\0')));
  EXPECT_EQ(h.descr, "<i8");
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(h.data_offset, 128u);  // 10 + 58 header bytes + newline, padded to 64
  EXPECT_EQ(h.numel(), 3);
  h = parse(npy_with_header("{\"shape\":(25000L, 150L),\"fortran_order\":True,\"descr\":\"|O\"}"));  // any order
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{25000, 150}));
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.descr, "|O");
  h = parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "", 2));
  EXPECT_TRUE(h.shape.empty());
  EXPECT_EQ(h.numel(), 1);
  EXPECT_EQ(h.major_version, 2);
  EXPECT_EQ(parse(npy_with_header("{'descr':'<i4','fortran_order':False,'shape':(0, 5)}")).numel(), 0);
}

TEST(Npy, HostileHeadersAreRejected) {
  expect_message(error_of("\x93NUMPZ\x01\x00"), {"t.npy", "byte 0", "no \\x93NUMPY magic"});
  expect_message(error_of(std::string("\x93NUMPY\x04\x00\x00\x00", 10)), {"byte 6", "version 4.0 is not supported"});
  std::string lying = npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }");
  lying[8] = static_cast<char>(0xff);  // header length 0x??ff: past the end
  expect_message(error_of(lying), {"byte 10", "runs past the end"});
  std::string huge = std::string("\x93NUMPY\x02\x00", 8) + std::string("\xff\xff\xff\x7f", 4);
  expect_message(error_of(huge), {"byte 8", "above the cap"});
  expect_message(error_of(std::string("\x93NUMPY\x01\x00\x05", 9)), {"byte 8", "truncated"});
  const std::string base = "'descr': '<i8', 'fortran_order': False";
  expect_message(error_of(npy_with_header("{" + base + "}")), {"lacks 'shape'"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (3,), 'extra': 1}")), {"unexpected key 'extra'"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (3,), 'descr': '<i4'}")), {"'descr' appears twice"});
  expect_message(error_of(npy_with_header("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,)}")),
                 {"structured dtypes"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': __import__('os').system('ls')}")),
                 {"t.npy", "byte ", "expected '('"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (3)}")), {"needs its comma"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (-3,)}")), {"expected a non-negative integer"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (3,,)}")), {"expected a non-negative integer"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (99999999999999999999,)}")), {"dimension too large"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (4000000, 4000000)}")), {"more than 1099511627776 elements"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (1,1,1,1,1,1,1,1,1)}")), {"more than 8 dimensions"});
  expect_message(error_of(npy_with_header("{'descr': '<i\\x38', 'fortran_order': False, 'shape': (3,)}")), {"escapes"});
  expect_message(error_of(npy_with_header("{" + base + ", 'shape': (3,)} junk")), {"unexpected text after"});
  expect_message(error_of(npy_with_header("{'descr': '<i8', 'fortran_order': 0, 'shape': (3,)}")), {"True or False"});
  expect_message(error_of(npy_with_header("{'descr': '<i8\t', 'fortran_order': False, 'shape': (3,)}")),
                 {"non-ASCII or control byte"});
  expect_message(error_of(npy_with_header("{'descr': '<i8, 'fortran_order': False, 'shape': (3,)}")), {"t.npy"});
}

// A header declaring 2^40 elements over 16 bytes of data: refused from the sizes before the 8 TiB of values exist.
TEST(Npy, DeclaredElementsFarBeyondTheDataAreRefusedBeforeAllocating) {
  const std::string bytes =
      npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (1099511627776,), }") + std::string(16, '\0');
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const testing::MeasuredRun run = testing::run_measured([&] {
    read_npy_ints(parse_npy_header(data, bytes.size(), "t.npy"), data, bytes.size(), "t.npy");
  });
  expect_message(run.outcome, {"InputError", "t.npy", "16 bytes of array data, expected 8796093022208"});
  EXPECT_LT(run.peak_growth, std::uint64_t{4} << 20);
}

TEST(Npy, DecodesEveryIntegerDtype) {
  std::string le16;
  for (std::uint16_t v : {std::uint16_t{1}, std::uint16_t{0xffff}, std::uint16_t{0x8000}}) {
    le16 += static_cast<char>(v & 0xff);
    le16 += static_cast<char>(v >> 8);
  }
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '<i2', 'fortran_order': False, 'shape': (3,)}", le16)),
            (std::vector<std::int64_t>{1, -1, -32768}));
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}", le16)),
            (std::vector<std::int64_t>{1, 65535, 32768}));
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '>i2', 'fortran_order': False, 'shape': (3,)}", le16)),
            (std::vector<std::int64_t>{256, -1, 128}));
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '|i1', 'fortran_order': False, 'shape': (2,)}", "\x05\xfb")),
            (std::vector<std::int64_t>{5, -5}));
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}", "\x05\xfb")),
            (std::vector<std::int64_t>{5, 251}));
  const std::string max_u8(8, '\xff');
  expect_message(input_error([&] { ints_of(npy_with_header("{'descr': '<u8', 'fortran_order': False, 'shape': (1,)}", max_u8)); }),
                 {"element 0 is above the int64 range"});
  EXPECT_EQ(ints_of(npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}", max_u8)),
            (std::vector<std::int64_t>{-1}));
  expect_message(input_error([&] { ints_of(npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", "1234")); }),
                 {"t.npy", "byte 128", "4 bytes of array data, expected 8"});
  expect_message(input_error([&] { ints_of(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "1234")); }),
                 {"'<f4' is not an integer dtype"});
  expect_message(input_error([&] { ints_of(npy_with_header("{'descr': '<i1', 'fortran_order': True, 'shape': (1, 1)}", "1")); }),
                 {"Fortran-order"});
  EXPECT_FALSE(npy_int_type("|O"));
  EXPECT_FALSE(npy_int_type("<i3"));
  EXPECT_FALSE(npy_int_type("|i4"));
  EXPECT_TRUE(npy_int_type("<u8"));
}

TEST(Npy, ReadsNumpyFilesOfEveryVersionAndWritesFilesNumpyReads) {
  ROSETTA_REQUIRE_NUMPY();
  TempDir dir;
  const std::vector<std::int32_t> values = {0, 1, -1, 29999, std::numeric_limits<std::int32_t>::min(), 7};
  testing::write_file(dir.file("rosetta.npy"), [&] {
    const std::vector<std::uint8_t> b = npy_bytes_i32({2, 3}, values.data());
    return std::string(b.begin(), b.end());
  }());
  const testing::PythonRun run = testing::run_python(
      "import numpy as np, os\n"
      "d = r'" + dir.path().string() + "'\n"
      "a = np.load(os.path.join(d, 'rosetta.npy'))\n"
      "assert a.dtype == np.int32 and a.shape == (2, 3), (a.dtype, a.shape)\n"
      "print(' '.join(str(v) for v in a.ravel()))\n"
      "x = np.arange(-5, 7, dtype=np.int64).reshape(3, 4) * 1000003\n"
      "for v in ((1, 0), (2, 0), (3, 0)):\n"
      "    with open(os.path.join(d, 'v%d.npy' % v[0]), 'wb') as f:\n"
      "        np.lib.format.write_array(f, x, version=v)\n"
      "np.save(os.path.join(d, 'be.npy'), x.astype('>u4') % 4000000000)\n");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output, "0 1 -1 29999 -2147483648 7\n");
  std::vector<std::int64_t> expected;
  for (std::int64_t v = -5; v < 7; ++v) expected.push_back(v * 1000003);
  for (int v = 1; v <= 3; ++v) {
    const std::string bytes = testing::read_file(dir.file("v" + std::to_string(v) + ".npy"));
    const NpyHeader h = parse(bytes);
    EXPECT_EQ(h.major_version, v);
    EXPECT_EQ(h.shape, (std::vector<std::int64_t>{3, 4}));
    EXPECT_EQ(h.data_offset % 64, 0u);
    EXPECT_EQ(ints_of(bytes), expected) << "version " << v;
  }
  std::vector<std::int64_t> big_endian;
  for (std::int64_t v : expected) big_endian.push_back(static_cast<std::uint32_t>(v) % 4000000000u);
  EXPECT_EQ(ints_of(testing::read_file(dir.file("be.npy"))), big_endian);
}

}  // namespace
}  // namespace rosetta
