// Command-line argument helpers shared by every `rosetta` command: a bad value is one line naming the flag and
// what was expected (an InputError: exit code 2), never a crash or an internal check message.
#pragma once
#include <initializer_list>
#include <string>

#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/error.h"

// A bad command-line value: one line, exit code 2.
#define ROSETTA_CHECK_ARG(cond, message)       \
  do {                                         \
    if (!(cond)) ROSETTA_INPUT_ERROR(message); \
  } while (0)

namespace rosetta::cli {

// "cpu" | "cuda" | "" (cuda when a device is present); cuda without a device is refused with the probe's reason.
Device resolve_device(const std::string& name);
// `name` if it is one of `allowed`, else an InputError naming --precision and the choices.
Precision parse_precision(const std::string& name, std::initializer_list<Precision> allowed);
// "on" -> true, "off" -> false, else an InputError naming the flag.
bool parse_on_off(const char* flag, const std::string& value);
inline const char* on_off(bool value) { return value ? "on" : "off"; }
// An output file's folder must exist before any work starts (empty path: nothing to check).
void check_output_folder(const char* flag, const std::string& path);

}  // namespace rosetta::cli
