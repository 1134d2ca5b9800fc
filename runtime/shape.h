// Shape: up to five dimensions, row-major. numel() is overflow-checked once, at construction.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

namespace rosetta {

class Shape {
 public:
  static constexpr int kMaxDims = 5;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  template <typename It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[i]; }
  std::int64_t numel() const { return numel_; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + rank_; }

  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  // "(64, 3, 32, 32)"
  std::string str() const;

 private:
  void push_back(std::int64_t dim);

  std::int64_t dims_[kMaxDims] = {};
  int rank_ = 0;
  std::int64_t numel_ = 1;
};

}  // namespace rosetta
