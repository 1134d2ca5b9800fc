// Command-line argument helpers shared by every `rosetta` command: a bad value is one line naming the flag and
// what was expected (an InputError: exit code 2), never a crash or an internal check message.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "kernels/conv.h"
#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/error.h"

// A bad command-line value: one line, exit code 2.
#define ROSETTA_CHECK_ARG(cond, message)       \
  do {                                         \
    if (!(cond)) ROSETTA_INPUT_ERROR(message); \
  } while (0)

namespace rosetta::cli {

// CLI11 validators that put the stated range in --help and in the one-line error: an integer written as one
// (no "2e9", no "-1" where negatives are out of range) in [min, max]; a finite number in [min, max] (NaN and
// infinities are refused: NaN passes any comparison with a bound).
CLI::Validator integer_in(std::int64_t min, std::int64_t max);
CLI::Validator finite_in(double min, double max);

// "cpu" | "cuda" | "" (cuda when a device is present); cuda without a device is refused with the probe's reason.
Device resolve_device(const std::string& name);
// `name` if it is one of `allowed`, else an InputError naming --precision and the choices.
Precision parse_precision(const std::string& name, std::initializer_list<Precision> allowed);
// --backend: "auto" -> empty (every layer's fastest backend, by timing); "cudnn", "cudnn-graph", "cublaslt" -> that
// backend forced where it accepts a layer; anything else ("direct" too: it serves few input channels, no layer of
// ResNet-50, so forcing it would force nothing), or a forced backend on the CPU (which has one convolution algorithm),
// is an InputError naming --backend.
std::optional<kernels::ConvBackend> parse_conv_backend(const std::string& name, Device device);
// "on" -> true, "off" -> false, else an InputError naming the flag.
bool parse_on_off(const char* flag, const std::string& value);
inline const char* on_off(bool value) { return value ? "on" : "off"; }
// Before any work starts, an output file's place must take it: its folder exists and is writable, and the path is
// not a directory (empty path: nothing to check). A failure is one line naming the flag.
void check_output_path(const char* flag, const std::string& path);
// The same for an output folder: an existing one must be a writable folder, a new one's parent must be.
void check_output_folder(const char* flag, const std::string& path);

}  // namespace rosetta::cli
