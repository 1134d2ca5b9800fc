// The equivalence protocol of DESIGN.md, run end to end: rosetta writes the data set (`--export-data`) and its
// initial weights (`--max-steps 0 --save`), then rosetta's CPU path and a twin (the PyTorch or the JAX peer) each
// train from that file on that data with the same flags, writing one loss per step. The test states the tolerance.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/cli.h"
#include "tests/support/python.h"

namespace rosetta::testing {

// A peer implementation: its folder under bench/peers and the Python that runs it.
struct Twin {
  std::string folder;       // "pytorch" | "jax"
  std::string interpreter;  // python_interpreter() (Debian's torch) | jax_python_interpreter() (.venv-jax)
};

inline Twin pytorch_twin() { return {"pytorch", python_interpreter()}; }
inline Twin jax_twin() { return {"jax", jax_python_interpreter()}; }

// The command that runs `script` (e.g. "cnn.py") of `twin`, without arguments.
inline std::string twin_command(const Twin& twin, const std::string& script) {
  return twin.interpreter + " " + source_dir() + "/bench/peers/" + twin.folder + "/" + script;
}

struct EquivalenceRun {
  std::vector<double> rosetta, twin;  // loss per step
};

// workload: "cnn" | "gru"; data: the path --export-data writes and --data reads; script: the twin's peer script;
// flags: the training flags both get (device, steps, batch, ...). ASSERTs on any failure.
inline void run_equivalence(const TempDir& dir, const std::string& workload, const std::string& data,
                            const Twin& twin, const std::string& script, const std::string& flags,
                            EquivalenceRun* result) {
  const std::string init = dir.file("init.safetensors");
  const std::string common = " --data " + data + " --init " + init + " " + flags;
  const CliRun exported = run_rosetta(dir, "train " + workload + " --synthetic --export-data " + data);
  ASSERT_EQ(exported.status, 0) << exported.output;
  const CliRun initial = run_rosetta(dir, "train " + workload + " --device cpu --max-steps 0 --seed 7 --save " + init);
  ASSERT_EQ(initial.status, 0) << initial.output;
  const CliRun ours = run_rosetta(dir, "train " + workload + common + " --log-steps " + dir.file("rosetta.txt"));
  ASSERT_EQ(ours.status, 0) << ours.output;
  const std::string log = dir.file(twin.folder + ".log"), losses = dir.file(twin.folder + ".txt");
  const std::string record = dir.file(twin.folder + ".json");
  ASSERT_EQ(run_command(twin_command(twin, script) + common + " --log-steps " + losses + " --json " + record, log), 0)
      << read_file(log);
  expect_valid_record(dir, record);  // the peer's record follows the schema, as rosetta's does
  result->rosetta = read_step_log(dir.file("rosetta.txt"));
  result->twin = read_step_log(losses);
}

}  // namespace rosetta::testing
