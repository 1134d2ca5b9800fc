#include "runtime/dtype.h"

namespace rosetta {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i32: return 4;
    case DType::u8: return 1;
    case DType::u64: return 8;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::u64: return "U64";
  }
  return "?";
}

bool dtype_from_name(const std::string& name, DType* dtype) {
  for (DType d : {DType::f32, DType::f16, DType::bf16, DType::i32, DType::u8, DType::u64}) {
    if (name == dtype_name(d)) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

}  // namespace rosetta
