// Running the built `rosetta` binary from tests: its exit status and everything it printed, the step log and the
// record it writes, and the rule every bad-input case must follow (one line, exit code 2, no crash).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/paths.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta::testing {

struct CliRun {
  int status;          // exit status; -1 when the process did not exit normally
  std::string output;  // stdout and stderr together
};

// `rosetta ARGS`, with its output captured in a file of `dir`.
inline CliRun run_rosetta(const TempDir& dir, const std::string& args) {
  const std::string log = dir.file("rosetta.log");
  const int status = run_command("'" + cli_path() + "' " + args, log);
  return {status, read_file(log)};
}

// Exit 2 with exactly one line, which mentions `needle`, and no sign of a crash.
inline void expect_one_line_error(const CliRun& run, const std::string& needle) {
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
  EXPECT_NE(run.output.find(needle), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("terminate"), std::string::npos) << run.output;
}

// The record at `path` follows docs/schema/result-record.schema.json, nulls with their reasons
// (bench/report/validate_record.py; Debian's python3-jsonschema, which tools/setup.sh installs).
inline void expect_valid_record(const TempDir& dir, const std::string& path) {
  const std::string log = dir.file("validate_record.log");
  const int status = run_command(python_interpreter() + " '" + source_dir() + "/bench/report/validate_record.py' '" + path + "'", log);
  EXPECT_EQ(status, 0) << read_file(log);
}

// The losses of a --log-steps file ("<step> <loss>" per line, steps 1, 2, ...).
inline std::vector<double> read_step_log(const std::string& path) {
  std::istringstream in(read_file(path));
  std::vector<double> losses;
  long step;
  double loss;
  while (in >> step >> loss) {
    EXPECT_EQ(step, static_cast<long>(losses.size()) + 1) << path;
    losses.push_back(loss);
  }
  return losses;
}

// The mean of the first and of the last `count` losses: how tests see that a run learned.
inline std::pair<double, double> first_and_last_mean(const std::vector<double>& losses, std::size_t count) {
  double first = 0, last = 0;
  for (std::size_t i = 0; i < count; ++i) first += losses[i], last += losses[losses.size() - 1 - i];
  return {first / count, last / count};
}

}  // namespace rosetta::testing
