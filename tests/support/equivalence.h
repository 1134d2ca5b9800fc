// The equivalence protocol of DESIGN.md, run end to end: rosetta writes the data set (`--export-data`) and its
// initial weights (`--max-steps 0 --save`), then rosetta's CPU path and the PyTorch twin each train from that
// file on that data with the same flags, writing one loss per step. The test states the tolerance.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/cli.h"
#include "tests/support/python.h"

namespace rosetta::testing {

struct EquivalenceRun {
  std::vector<double> rosetta, pytorch;  // loss per step
};

// workload: "cnn" | "gru"; data: the path --export-data writes and --data reads; twin: the peer script under
// bench/peers/pytorch; flags: the training flags both get (device, steps, batch, ...). ASSERTs on any failure.
inline void run_equivalence(const TempDir& dir, const std::string& workload, const std::string& data,
                            const std::string& twin, const std::string& flags, EquivalenceRun* result) {
  const std::string init = dir.file("init.safetensors");
  const std::string common = " --data " + data + " --init " + init + " " + flags;
  const CliRun exported = run_rosetta(dir, "train " + workload + " --synthetic --export-data " + data);
  ASSERT_EQ(exported.status, 0) << exported.output;
  const CliRun initial = run_rosetta(dir, "train " + workload + " --device cpu --max-steps 0 --seed 7 --save " + init);
  ASSERT_EQ(initial.status, 0) << initial.output;
  const CliRun ours = run_rosetta(dir, "train " + workload + common + " --log-steps " + dir.file("rosetta.txt"));
  ASSERT_EQ(ours.status, 0) << ours.output;
  const std::string script = source_dir() + "/bench/peers/pytorch/" + twin;
  ASSERT_EQ(run_command(python_interpreter() + " " + script + common + " --log-steps " + dir.file("torch.txt"),
                        dir.file("torch.log")), 0)
      << read_file(dir.file("torch.log"));
  result->rosetta = read_step_log(dir.file("rosetta.txt"));
  result->pytorch = read_step_log(dir.file("torch.txt"));
}

}  // namespace rosetta::testing
