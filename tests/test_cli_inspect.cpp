// `rosetta inspect`, run as the built binary (ROSETTA_CLI): a good file lists its tensors and exits 0; every
// malformed, missing or non-file path exits 2 with exactly one "rosetta: error: ..." line on stderr and nothing
// on stdout (no abort, no "terminate called ...").
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <sstream>

#include "runtime/safetensors.h"
#include "tests/support/safetensors_cases.h"
#include "tests/support/paths.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::MalformedCase;
using testing::TempDir;

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally (a signal, a crash)
  std::string out, err;
};

// Runs `rosetta inspect PATH` with stdout and stderr captured in files of `dir`.
CliResult run_inspect(const TempDir& dir, const std::string& path) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string command =
      "'" + testing::cli_path() + "' inspect '" + path + "' > '" + out + "' 2> '" + err + "'";
  const int status = std::system(command.c_str());
  CliResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = testing::read_file(out);
  result.err = testing::read_file(err);
  return result;
}

void expect_one_error_line(const CliResult& result, const std::string& path) {
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err.rfind("rosetta: error: " + path + ": ", 0), 0u) << result.err;
  ASSERT_FALSE(result.err.empty());
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "exactly one line: " << result.err;
  EXPECT_EQ(result.err.find("terminate"), std::string::npos) << result.err;
}

TEST(CliInspect, ListsTensorsInOffsetOrderWithTotalsAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path,
                    {{"conv1.weight", Tensor::zeros({50, 3, 3, 3}, DType::f32)},
                     {"conv1.bias", Tensor::zeros({50}, DType::f32)},
                     {"step", Tensor::zeros({}, DType::u64)}},
                    {{"format", "pt"}});
  const CliResult result = run_inspect(dir, path);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out,
            "conv1.weight  F32  (50, 3, 3, 3)  5400\n"
            "conv1.bias    F32  (50,)          200\n"
            "step          U64  ()             8\n"
            "total: 3 tensors, 1401 elements, 5608 bytes\n"
            "metadata:\n"
            "  format: pt\n");
}

TEST(CliInspect, MissingFileAndDirectoryAreOneLine) {
  TempDir dir;
  expect_one_error_line(run_inspect(dir, dir.file("absent.safetensors")), dir.file("absent.safetensors"));
  expect_one_error_line(run_inspect(dir, dir.path().string()), dir.path().string());
}

class CliInspectMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(CliInspectMalformed, ExitsTwoWithOneLine) {
  TempDir dir;
  const MalformedCase& bad = GetParam();
  const std::string path = dir.file(bad.name + ".safetensors");
  testing::write_file(path, bad.bytes);
  const CliResult result = run_inspect(dir, path);
  expect_one_error_line(result, path);
  for (const std::string& fragment : bad.fragments)
    EXPECT_NE(result.err.find(fragment), std::string::npos) << "no '" << fragment << "' in: " << result.err;
}

INSTANTIATE_TEST_SUITE_P(EveryCheck, CliInspectMalformed, ::testing::ValuesIn(testing::malformed_cases()),
                         [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

}  // namespace
}  // namespace rosetta
