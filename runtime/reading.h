// Reading<T>: a value that was measured or read, or the reason there is none. What rosetta reports where a figure
// may be unavailable (no GPU, no NVML, a driver without the counter): it is never made up, it is empty with a reason.
#pragma once
#include <optional>
#include <string>
#include <utility>

namespace rosetta {

template <class T>
struct Reading {
  std::optional<T> value;
  std::string reason;  // empty exactly when value is set

  static Reading of(T v) { return {std::move(v), {}}; }
  static Reading missing(std::string why) { return {std::nullopt, std::move(why)}; }
};

}  // namespace rosetta
