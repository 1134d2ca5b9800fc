// Hostile imdb.npz files for the reader's tests and the CLI's: the x_train.npy issue 15 found (an object array of
// memo references to one empty list, which asked for 9.6 GB from 63 KB deflated), wrapped with three small valid
// members. Header-only, no GoogleTest.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/npy.h"
#include "tests/support/pickle_builder.h"
#include "tests/support/zip_builder.h"

namespace rosetta::testing {

// x_train.npy of `references` memo references to one empty list, the .npy header declaring `declared` elements,
// in APPENDS batches of 1000 as Python writes them.
inline std::vector<std::uint8_t> shared_list_npy(std::int64_t references, std::int64_t declared) {
  Pickle p;
  array_prologue(p, references).op(EMPTY_LIST).op(BINPUT).u8(200);
  for (std::int64_t i = 1; i < references; ++i) {
    if (i % 1000 == 0) p.op(APPENDS).op(MARK);
    p.op(BINGET).u8(200);
  }
  return object_npy(declared, array_epilogue(p).bytes());
}

// An imdb.npz of `x_train` (deflated or stored) and valid one-example y_train, x_test and y_test members.
inline std::vector<std::uint8_t> imdb_npz_with(std::vector<std::uint8_t> x_train, bool deflate) {
  const std::vector<std::int32_t> labels = {0};
  const std::vector<std::int32_t> tokens(150, 5);
  const std::vector<std::uint8_t> y = npy_bytes_i32({1}, labels.data()), x = npy_bytes_i32({1, 150}, tokens.data());
  return zip_bytes(
      {{"x_train.npy", std::move(x_train), deflate}, {"y_train.npy", y}, {"x_test.npy", x}, {"y_test.npy", y}});
}

}  // namespace rosetta::testing
