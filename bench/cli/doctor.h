// `rosetta doctor`: in about a minute, whether this installation runs rosetta as it should. One line per check (ok,
// warn, fail or skip, and why) as the checks run, then a summary line; --json FILE writes the findings.
//
// With a GPU: the driver and the CUDA, cuDNN and cuBLAS versions in use; the GPU's clocks, power limit, MIG and ECC
// modes through NVML (runtime/nvml.h); short runs of the three workloads (this binary run again with --json into a
// temporary folder, with the settings of the reference record) compared with the reference records shipped for this
// GPU model (doctor_reference.h), every deviation beyond the spread explained by what differs, and the clocks under
// their load; last, pinned host-to-device bandwidth with the PCIe link read while it runs. Without a GPU it says so,
// and checks the build and that the CPU path trains (the loss falls) and extracts (finite features).
//
// Exit codes, through the CLI's protocol (commands.h): 0 healthy (no warn or fail line); 1 deviations found (the
// summary, then a rosetta::Error line); 2 the doctor could not run (an InputError: a --json folder that does not exist,
// a reference index that cannot be read, no temporary folder).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace rosetta::cli {

struct DoctorOptions {
  std::string json_path;
  std::string references_path;  // empty: docs/results/reference.json of the source tree this binary was built from
  bool quick = false;           // the checks without the workload runs, in seconds
};

void add_doctor_command(CLI::App& app, DoctorOptions& options);

}  // namespace rosetta::cli
