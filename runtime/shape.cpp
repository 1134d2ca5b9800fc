#include "runtime/shape.h"

#include <limits>

#include "runtime/error.h"

namespace rosetta {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t dim) {
  ROSETTA_CHECK(rank_ < kMaxDims, "a shape has at most " << kMaxDims << " dimensions");
  ROSETTA_CHECK(dim >= 0, "dimension " << rank_ << " is negative: " << dim);
  ROSETTA_CHECK(dim == 0 || numel_ <= std::numeric_limits<std::int64_t>::max() / dim,
                "element count overflows int64 at dimension " << rank_);
  dims_[rank_++] = dim;
  numel_ *= dim;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + (rank_ == 1 ? ",)" : ")");
}

}  // namespace rosetta
