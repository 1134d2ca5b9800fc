// What `rosetta doctor` compares a short run with: the reference records shipped in docs/results for a GPU model,
// and the comparison of a run's record with one of them.
//
// docs/results/reference.json names, per GPU model (the records' "device"), the record of each workload:
//   {"schema": "rosetta-doctor-references", "version": 1,
//    "devices": {"NVIDIA H200": {"cnn": "<record path, relative to the index>", "gru": "...", "resnet50": "..."}}}
//
// Invariants: a comparison reads only the two records. The doctor adds to its run's record what it observed while
// the run ran ("gpu": nvml.h's to_json of the GPU and "under_load" of its samples; "environment": the variables
// that change what CUDA, cuDNN and cuBLAS do), and a reference record may carry the same. A difference counts only
// beyond a band: the two records' relative spreads added, and never less than kNoiseFloor. Every deviation comes
// with each difference found between the two records that can move the time, or says that none was found.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/reading.h"

namespace rosetta::cli {

// A fresh process on the same card varies by more than one run's epochs do (TorchBench's noise study found 5-9%
// run to run), so a difference smaller than 10% is never called a deviation.
constexpr double kNoiseFloor = 0.10;

// The index: GPU model -> workload -> record file (resolved against the index's folder). An index that cannot be
// read or is malformed is an InputError naming the file.
struct ReferenceIndex {
  std::string path;
  std::map<std::string, std::map<std::string, std::string>> devices;
};
ReferenceIndex read_reference_index(const std::string& path);

struct References {
  std::map<std::string, nlohmann::json> records;  // workload -> its reference record, for this GPU model
  std::map<std::string, std::string> paths;       // workload -> the record's file
  std::string none;                               // why there are none for this GPU model; empty when there are
};
// The records for `device` (a CUDA device's name). A record that cannot be read, or whose workload or device is not
// the one it is listed under, is an InputError naming the file.
References references_for(const ReferenceIndex& index, const std::string& device);

// The steady-state seconds per example of a record: its `steady` block (schema version 1), else the epochs after
// the first (a run of complete epochs), else its seconds per 1000 images (one timed pass: no spread).
struct Steady {
  double median_s = 0, min_s = 0, max_s = 0;
  int repetitions = 0;
  double spread() const { return (max_s - min_s) / median_s; }  // relative
};
Reading<Steady> steady_per_example(const nlohmann::json& record);

struct Comparison {
  enum class Verdict { within, slower, faster, not_comparable };
  Verdict verdict = Verdict::not_comparable;
  double ratio = 0;  // the run's median over the reference's
  double band = 0;   // |ratio - 1| beyond this is a deviation
  std::string summary;
  std::vector<std::string> explanations;  // for a deviation: what differs, or that nothing was found
};
Comparison compare_with_reference(const nlohmann::json& reference, const nlohmann::json& run);

// The variables set in this process's environment that change what CUDA, cuDNN or cuBLAS do (NVIDIA_TF32_OVERRIDE,
// CUDA_LAUNCH_BLOCKING, the libraries' logging, ...), as {"NAME": "value"}: a run's record's "environment".
nlohmann::json library_environment();

}  // namespace rosetta::cli
