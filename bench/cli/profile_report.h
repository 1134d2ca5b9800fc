// `--profile`: what a profiled run prints and records. The breakdown groups the regions runtime/profiler.h timed by
// the classes of kernels/op_class.h, plus `gaps` (the wall time no region covers: idle and launch gaps), and lists
// each pass and each op call of the step in order (a layer is the ops it calls: the 2nd conv2d_forward of the
// forward pass is conv2's). The record's "profile" section (docs/schema/result-record.schema.json) has the same
// fields as every peer's (bench/peers/common/profile_classes.py), so the report sets them side by side.
//
// Invariants: every figure is seconds per profiled unit (a training step, or a batch of the extraction), averaged
// over the units profiled; the classes and `gaps` add up to the unit's wall time (gaps is never below zero).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/profiler.h"

namespace rosetta::cli {

// Training steps a profiled run profiles: its last kProfileSteps steps (all but the first when it has fewer).
inline constexpr std::int64_t kProfileSteps = 20;

// The classes of the record's profile.classes, in the report's order: kernels/op_class.h's, then the two that only
// a peer's profiler can produce (conv_backward: one call computes both convolution gradients; other: a kernel its
// mapping does not name), then gaps.
const std::vector<std::string>& profile_class_names();

// What the profile says about how it was taken: `unit` "step" or "batch", `note` one sentence (the eager step on a
// GPU), printed and recorded.
struct ProfileMethod {
  std::string unit;
  std::string note;
};

// The record's "profile" section of `profiler` (after finish()).
nlohmann::json profile_record(const Profiler& profiler, const ProfileMethod& method);
// Prints the breakdown: classes, passes, then every op call (pass, op #occurrence, class, ms per unit, share).
void print_profile(const nlohmann::json& profile);

}  // namespace rosetta::cli
