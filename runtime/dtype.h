// Element types a Tensor can hold, their sizes and their safetensors names.
#pragma once
#include <cstddef>
#include <string>

namespace rosetta {

// u64 holds counters (the step counter that dropout and Adam read on the device).
enum class DType { f32, f16, bf16, i32, u8, u64 };

std::size_t dtype_size(DType dtype);
// safetensors spelling: "F32", "F16", "BF16", "I32", "U8", "U64".
const char* dtype_name(DType dtype);
// Inverse of dtype_name; returns false for a name rosetta does not know.
bool dtype_from_name(const std::string& name, DType* dtype);

}  // namespace rosetta
