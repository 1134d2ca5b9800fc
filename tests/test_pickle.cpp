// The restricted pickle reader: numpy object arrays of int lists pickled by Python (protocols 2-5, both numpy
// spellings, np.save's payload) and by a hand-assembled Python 2 style pickle read back exactly; hostile pickles
// (foreign globals, calls of anything else, INST/OBJ/PERSID and friends, deep nesting, huge declared lengths,
// memo abuse, stack and list caps, cycles, shared lists, the memory budget against floods of small values,
// truncation at every length, trailing bytes) each one InputError line naming the source and the byte offset,
// within bounded memory; and 2000 Philox-seeded mutations of a valid pickle that may only succeed or raise
// InputError.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/npy.h"
#include "datasets/pickle.h"
#include "datasets/shuffle.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/pickle_builder.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::expect_message;
using testing::input_error;
using testing::TempDir;
using namespace testing::pickle_ops;
using testing::array_epilogue;
using testing::array_prologue;
using testing::IntLists;
using testing::Pickle;
using testing::py2_pickle;

IntLists read(const std::vector<std::uint8_t>& bytes, const PickleLimits& limits = PickleLimits()) {
  return read_pickled_int_lists(bytes.data(), bytes.size(), "test.npy", 100, limits);
}

std::string error_of(const std::vector<std::uint8_t>& bytes, const PickleLimits& limits = PickleLimits()) {
  return input_error([&] { read(bytes, limits); });
}

// The lists the Python cases pickle; the same formula in Python below. Lengths 0..1599 (APPENDS batches of
// 1000 above 1000 items), values of every int opcode's range, and 300 lists (memo indices above 255).
const char kPythonLists[] =
    "lists = [[(i * 7919 + j * 104729) % 100000 - (5 if j == 3 else 0) for j in range((i * 37) % 1600)]"
    " for i in range(300)]\n"
    "lists[5] = [2**40, -2**40, 2**63 - 1, -2**63, 255, 256, 65535, 65536, 2**31 - 1, -2**31, -1, 0]\n";
IntLists expected_lists() {
  IntLists lists(300);
  for (std::int64_t i = 0; i < 300; ++i)
    for (std::int64_t j = 0; j < (i * 37) % 1600; ++j) lists[i].push_back((i * 7919 + j * 104729) % 100000 - (j == 3 ? 5 : 0));
  lists[5] = {std::int64_t{1} << 40, -(std::int64_t{1} << 40), INT64_MAX, INT64_MIN, 255, 256, 65535, 65536,
              INT32_MAX, INT32_MIN, -1, 0};
  return lists;
}

TEST(Pickle, ReadsAHandAssembledPython2Pickle) {
  const IntLists lists = {{1, 14, 22}, {}, {70000}, {5, -3, INT64_MIN, std::int64_t{1} << 40}};
  EXPECT_EQ(read(py2_pickle(lists)), lists);
  EXPECT_EQ(read(py2_pickle({})), IntLists{});
  IntLists many(300, std::vector<std::int64_t>{7});  // LONG_BINPUT for memo indices above 255
  EXPECT_EQ(read(py2_pickle(many)), many);
}

TEST(Pickle, ReadsWhatPythonPicklesAtEveryProtocol) {
  ROSETTA_REQUIRE_NUMPY();
  TempDir dir;
  const testing::PythonRun run = testing::run_python(
      "import numpy as np, pickle, os\n" + std::string(kPythonLists) +
      "a = np.empty(len(lists), dtype=object)\n"
      "for i, l in enumerate(lists): a[i] = l\n"
      "d = r'" + dir.path().string() + "'\n"
      "for p in (2, 3, 4, 5):\n"
      "    open(os.path.join(d, 'p%d.pickle' % p), 'wb').write(pickle.dumps(a, protocol=p))\n"
      "p2 = pickle.dumps(a, protocol=2)\n"
      "assert b'_codecs' in p2\n"  // Python 3 at protocol 2 pickles b'b' through _codecs.encode
      "open(os.path.join(d, 'core2.pickle'), 'wb').write(p2.replace(b'numpy.core.multiarray', b'numpy._core.multiarray'))\n"
      "np.save(os.path.join(d, 'saved.npy'), a)\n");
  ASSERT_EQ(run.status, 0) << run.output;
  const IntLists expected = expected_lists();
  for (const char* name : {"p2.pickle", "p3.pickle", "p4.pickle", "p5.pickle", "core2.pickle"}) {
    const std::string bytes = testing::read_file(dir.file(name));
    EXPECT_EQ(read(std::vector<std::uint8_t>(bytes.begin(), bytes.end())), expected) << name;
  }
  const std::string saved = testing::read_file(dir.file("saved.npy"));
  const auto* data = reinterpret_cast<const std::uint8_t*>(saved.data());
  const NpyHeader header = parse_npy_header(data, saved.size(), "saved.npy");
  EXPECT_EQ(header.descr, "|O");
  EXPECT_EQ(header.shape, (std::vector<std::int64_t>{300}));
  EXPECT_EQ(read_pickled_int_lists(data + header.data_offset, saved.size() - header.data_offset, "saved.npy",
                                   header.data_offset),
            expected);
}

TEST(Pickle, ForeignGlobalsAreRejectedWithTheirName) {
  std::string m = error_of(Pickle().proto().global("os", "system").op(STOP).bytes());
  expect_message(m, {"test.npy", "byte 102", "GLOBAL", "'os.system'", "not allowed"});
  m = error_of(Pickle().proto(4).unicode("builtins").unicode("eval").op(STACK_GLOBAL).op(STOP).bytes());
  expect_message(m, {"test.npy", "byte 118", "STACK_GLOBAL", "'builtins.eval'", "not allowed"});
  m = error_of(Pickle().proto().global("numpy", "load").op(STOP).bytes());
  expect_message(m, {"'numpy.load'", "not allowed"});
  m = error_of(Pickle().proto().global("numpy.core.multiarray\nx", "y").op(STOP).bytes());
  expect_message(m, {"not allowed"});  // one line even though the name holds a newline (the parse splits it)
  m = error_of(Pickle().proto().global(std::string(2000, 'a'), "b").op(STOP).bytes());
  expect_message(m, {"GLOBAL", "without a newline"});
}

TEST(Pickle, ReduceOfAnythingElseIsRejected) {
  // numpy.ndarray((0,)) called directly.
  std::string m = error_of(Pickle().proto().global("numpy", "ndarray").integer(0).op(TUPLE1).op(TUPLE1).op(REDUCE).op(STOP).bytes());
  expect_message(m, {"byte 121", "REDUCE", "calling numpy.ndarray is not allowed"});
  // Calling a list.
  m = error_of(Pickle().proto().op(EMPTY_LIST).op(EMPTY_TUPLE).op(REDUCE).op(STOP).bytes());
  expect_message(m, {"REDUCE", "calling a list is not allowed"});
  // _reconstruct with the wrong arguments; _codecs.encode with another codec; a non-object dtype.
  m = error_of(Pickle().proto().global("numpy.core.multiarray", "_reconstruct").integer(1).op(TUPLE1).op(REDUCE).op(STOP).bytes());
  expect_message(m, {"REDUCE", "_reconstruct takes"});
  m = error_of(Pickle().proto().global("_codecs", "encode").unicode("b").unicode("rot13").op(0x86).op(REDUCE).op(STOP).bytes());
  expect_message(m, {"REDUCE", "_codecs.encode takes"});
  Pickle p;
  m = error_of(array_prologue(p, 0, "<i8").bytes());
  expect_message(m, {"REDUCE", "dtype '<i8' is not an object dtype"});
}

TEST(Pickle, OtherOpcodesAreRejected) {
  for (std::uint8_t code : std::vector<std::uint8_t>{INST, OBJ, PERSID, NEWOBJ, EMPTY_DICT, BINFLOAT, 'I', 0xff}) {
    const std::string m = error_of(Pickle().proto().op(code).op(STOP).bytes());
    expect_message(m, {"test.npy", "byte 102", "not allowed"});
  }
  expect_message(error_of(Pickle().proto().op(INST).bytes()), {"INST"});
  expect_message(error_of(Pickle().proto().op(0xff).bytes()), {"opcode 0xff"});
}

TEST(Pickle, ProtocolMustBe2To5AndFirst) {
  expect_message(error_of(Pickle().op(NONE).op(STOP).bytes()), {"byte 100", "starts with PROTO"});
  expect_message(error_of(Pickle().proto(1).op(NONE).op(STOP).bytes()), {"protocol 1"});
  expect_message(error_of(Pickle().proto(6).op(NONE).op(STOP).bytes()), {"protocol 6"});
  expect_message(error_of(Pickle().proto().proto().op(STOP).bytes()), {"byte 102", "PROTO after the start"});
  expect_message(error_of({}), {"empty pickle"});
}

TEST(Pickle, StopMustLeaveOneBuiltArray) {
  expect_message(error_of(Pickle().proto().op(NONE).op(STOP).bytes()), {"STOP", "None, not a built numpy object array"});
  expect_message(error_of(Pickle().proto().op(NONE).op(NONE).op(STOP).bytes()), {"STOP leaves 2 values"});
  expect_message(error_of(Pickle().proto().op(STOP).bytes()), {"STOP leaves 0 values"});
  std::vector<std::uint8_t> trailing = py2_pickle({{1}});
  trailing.push_back(NONE);
  expect_message(error_of(trailing), {"1 bytes follow STOP"});
  // An array whose elements are ints or strings, not lists.
  Pickle p;
  array_prologue(p, 2).integer(5).integer(6);
  expect_message(error_of(array_epilogue(p).bytes()), {"element 0 is an int, not a list of ints"});
  Pickle q;
  array_prologue(q, 1).py2_str("no");
  expect_message(error_of(array_epilogue(q).bytes()), {"element 0 is a str, not a list of ints"});
  // Shape (3,) with 1 element.
  Pickle r;
  array_prologue(r, 3).op(EMPTY_LIST);
  expect_message(error_of(array_epilogue(r).bytes()), {"BUILD", "shape (3,) but 1 elements"});
}

TEST(Pickle, DeepNestingHitsTheDepthCap) {
  Pickle p;
  p.proto();
  for (int i = 0; i < 100; ++i) p.op(EMPTY_LIST);
  for (int i = 0; i < 99; ++i) p.op(APPEND);
  expect_message(error_of(p.op(STOP).bytes()), {"APPEND", "nesting deeper than 16"});
  Pickle q;
  q.proto();
  q.op(EMPTY_TUPLE);
  for (int i = 0; i < 100; ++i) q.op(TUPLE1);
  expect_message(error_of(q.op(STOP).bytes()), {"TUPLE1", "nesting deeper than 16"});
  Pickle marks;
  marks.proto();
  for (int i = 0; i < 100; ++i) marks.op(MARK);
  expect_message(error_of(marks.op(STOP).bytes()), {"MARK", "more than 16 open MARKs"});
}

TEST(Pickle, HugeDeclaredLengthsAreRejectedBeforeAllocating) {
  expect_message(error_of(Pickle().proto().op(BINUNICODE).le(0xffffffffu, 4).op(STOP).bytes()),
                 {"byte 102", "BINUNICODE", "string of 4294967295 bytes is above the cap of 1024"});
  expect_message(error_of(Pickle().proto(4).op(BINUNICODE8).le(std::uint64_t{1} << 62, 8).bytes()),
                 {"BINUNICODE8", "above the cap"});
  expect_message(error_of(Pickle().proto().op(BINUNICODE).le(500, 4).text("short").bytes()),
                 {"BINUNICODE", "argument of 500 bytes runs past the end"});
  expect_message(error_of(Pickle().proto(4).op(FRAME).le(std::uint64_t{1} << 40, 8).op(STOP).bytes()),
                 {"FRAME", "runs past the end"});
  expect_message(error_of(Pickle().proto().op(LONG1).u8(9).le(0, 8).u8(0).op(STOP).bytes()),
                 {"LONG1", "does not fit in 64 bits"});
  expect_message(error_of(Pickle().proto().op('T').le(0x80000000u, 4).bytes()), {"BINSTRING", "negative length"});
}

TEST(Pickle, ListAndElementCaps) {
  PickleLimits limits;
  limits.max_list_length = 1000;
  std::vector<std::int64_t> long_list(1001, 3);
  expect_message(error_of(py2_pickle({long_list}), limits), {"APPENDS", "list longer than the cap of 1000"});
  EXPECT_EQ(read(py2_pickle({std::vector<std::int64_t>(1000, 3)}), limits).size(), 1u);
  limits = PickleLimits();
  limits.max_stack = 100;
  Pickle p;
  p.proto();
  for (int i = 0; i < 101; ++i) p.op(NONE);
  expect_message(error_of(p.op(STOP).bytes(), limits), {"NONE", "stack above the cap of 100"});
  // Ints and lists in one list.
  expect_message(error_of(Pickle().proto().op(EMPTY_LIST).integer(1).op(APPEND).op(EMPTY_LIST).op(APPEND).op(STOP).bytes()),
                 {"APPEND", "mixing ints"});
}

TEST(Pickle, MemoAbuseIsBounded) {
  expect_message(error_of(Pickle().proto().op(NONE).op(LONG_BINPUT).le(0xffffffffu, 4).op(STOP).bytes()),
                 {"LONG_BINPUT", "memo index 4294967295 is above the cap"});
  expect_message(error_of(Pickle().proto().op(BINGET).u8(5).op(STOP).bytes()), {"BINGET", "memo entry 5 was never stored"});
  expect_message(error_of(Pickle().proto().op(NONE).op(BINPUT).u8(0).op(LONG_BINGET).le(1, 4).op(STOP).bytes()),
                 {"LONG_BINGET", "memo entry 1 was never stored"});
  expect_message(error_of(Pickle().proto().op(BINPUT).u8(0).op(STOP).bytes()), {"BINPUT", "stack underflow"});
  expect_message(error_of(Pickle().proto().op('p').text("12x\n").op(STOP).bytes()), {"PUT", "decimal memo index"});
}

// One 1000-int list referenced 1000 times through the memo would be a million ints out of a few kilobytes; one
// empty list referenced 16 M times (the 63 KB npz of issue 15) 16 M sequences. A list may be placed only once, so
// the second reference is refused.
TEST(Pickle, SharedListsAreRefused) {
  Pickle p;
  array_prologue(p, 1000);
  p.op(EMPTY_LIST).op(LONG_BINPUT).le(5000, 4).op(MARK);
  for (int i = 0; i < 1000; ++i) p.integer(i);
  p.op(APPENDS);
  for (int i = 1; i < 1000; ++i) p.op(LONG_BINGET).le(5000, 4);
  expect_message(error_of(array_epilogue(p).bytes()), {"APPENDS", "a list placed in a second container"});
  Pickle tuple;  // in a tuple, then in the array's list
  tuple.proto().op(EMPTY_LIST).op(BINPUT).u8(0).op(TUPLE1).op(EMPTY_LIST).op(BINGET).u8(0).op(APPEND).op(STOP);
  expect_message(error_of(tuple.bytes()), {"APPEND", "a list placed in a second container"});
}

// Values of a few bytes each that build far more: empty lists (1 byte each inside APPENDS, ~180 bytes built),
// Nones in a tuple, a sparse memo. The budget refuses each before it is built, in memory near the budget.
TEST(Pickle, FloodsOfSmallValuesHitTheMemoryBudget) {
  const std::int64_t n = 2'000'000;
  Pickle lists;
  array_prologue(lists, n);
  for (std::int64_t i = 0; i < n; ++i) {
    if (i > 0 && i % 1000 == 0) lists.op(APPENDS).op(MARK);  // batches of 1000, as Python writes
    lists.op(EMPTY_LIST);
  }
  lists.op(APPENDS);
  const std::vector<std::uint8_t> flood = array_epilogue(lists).bytes();
  const testing::MeasuredRun run = testing::run_measured([&] { read(flood); });
  expect_message(run.outcome, {"InputError", "the values built pass", "the memory cap for a pickle of"});
  // The budget is 1 MiB + 16 x 2 MB; unbounded, the lists alone would take ~360 MB.
  EXPECT_LT(run.peak_growth, 100u << 20) << run.outcome;

  Pickle nones;  // a 1 M-item tuple of None: 32 MB of values from 1 MB
  nones.proto().op(MARK);
  for (int i = 0; i < 1'000'000; ++i) nones.op(NONE);
  expect_message(error_of(nones.op(TUPLE).op(STOP).bytes()), {"TUPLE", "the memory cap"});
  // A memo slot a million places out, from 10 bytes.
  expect_message(error_of(Pickle().proto().op(NONE).op(LONG_BINPUT).le(999'999, 4).op(STOP).bytes()),
                 {"LONG_BINPUT", "the memory cap"});
  PickleLimits small;  // the absolute cap applies whatever the pickle's size
  small.max_bytes = 4096;
  expect_message(error_of(py2_pickle(IntLists(10, std::vector<std::int64_t>(600, 1))), small),
                 {"the values built pass 4096 bytes", "at most 4096"});
}

TEST(Pickle, NoCyclesCanForm) {
  // A list appended to itself.
  expect_message(error_of(Pickle().proto().op(EMPTY_LIST).op(BINPUT).u8(0).op(BINGET).u8(0).op(APPEND).op(STOP).bytes()),
                 {"APPEND", "appending a list to itself"});
  // A into B, then B into A: A is frozen once inside B.
  expect_message(error_of(Pickle().proto()
                              .op(EMPTY_LIST).op(BINPUT).u8(0)              // A
                              .op(EMPTY_LIST).op(BINPUT).u8(1)              // B
                              .op(BINGET).u8(0).op(APPEND)                  // B.append(A)
                              .op(POP).op(BINGET).u8(0).op(BINGET).u8(1)    // A, B
                              .op(APPEND)                                   // A.append(B)
                              .op(STOP).bytes()),
                 {"APPEND", "already placed in a container"});
  // An array placed inside its own elements.
  Pickle p;
  array_prologue(p, 1).op(BINGET).u8(5);  // memo 5: the ndarray from REDUCE
  expect_message(error_of(array_epilogue(p).bytes()), {"APPENDS", "numpy.ndarray inside a container"});
}

TEST(Pickle, StackUnderflowAndMarkMisuse) {
  expect_message(error_of(Pickle().proto().op(POP).op(STOP).bytes()), {"POP", "stack underflow"});
  expect_message(error_of(Pickle().proto().op(POP_MARK).op(STOP).bytes()), {"POP_MARK", "no MARK"});
  expect_message(error_of(Pickle().proto().op(NONE).op(MARK).op(TUPLE1).op(STOP).bytes()), {"TUPLE1", "stack underflow"});
  expect_message(error_of(Pickle().proto().op(EMPTY_LIST).op(MARK).op(APPEND).op(STOP).bytes()), {"APPEND", "stack underflow"});
  expect_message(error_of(Pickle().proto().op(NONE).op(MARK).op(STOP).bytes()), {"STOP with an open MARK"});
  expect_message(error_of(Pickle().proto().op(NONE).op(BUILD).op(STOP).bytes()), {"BUILD", "stack underflow"});
  expect_message(error_of(Pickle().proto().op(NONE).op(EMPTY_TUPLE).op(BUILD).op(STOP).bytes()),
                 {"BUILD of None is not allowed"});
}

TEST(Pickle, EveryTruncationIsAnInputError) {
  const std::vector<std::uint8_t> valid = py2_pickle({{1, 2, 3}, {}, {70000, -1}, {std::int64_t{1} << 40}});
  ASSERT_EQ(read(valid).size(), 4u);
  for (std::size_t cut = 0; cut < valid.size(); ++cut) {
    const std::vector<std::uint8_t> prefix(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_message(error_of(prefix), {"test.npy", "byte "});
  }
}

// Random damage to a valid pickle: 1-4 edits each (overwrite, insert, delete a byte, or truncate), positions
// and values from Philox. Only success or InputError is acceptable: no crash, no other exception, no hang.
TEST(Pickle, MutatedPicklesOnlyFailCleanly) {
  IntLists lists;
  for (int i = 0; i < 20; ++i) lists.push_back(std::vector<std::int64_t>(static_cast<std::size_t>(i * 3), 29000 + i));
  lists[7] = {std::int64_t{1} << 50, -7, 300, 70000};
  const std::vector<std::uint8_t> valid = py2_pickle(lists);
  ASSERT_EQ(read(valid), lists);
  PhiloxWords draw(2024, philox_step_stream(0x7a7a7a7au, 0));
  int succeeded = 0, rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::uint8_t> bytes = valid;
    testing::damage_at_random(bytes, draw, 4);
    try {
      read(bytes);
      ++succeeded;
    } catch (const InputError& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      FAIL() << "trial " << trial << ": not an InputError: " << e.what();
    }
  }
  EXPECT_EQ(succeeded + rejected, 2000);
  EXPECT_GT(rejected, 1000);  // most damage is detected; some edits (an int's value) are legal pickles
}

}  // namespace
}  // namespace rosetta
