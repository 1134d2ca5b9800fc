// Layout: the memory order of a 4-D activation or filter tensor. Every op that takes a layout takes this one
// enum; shapes are always named logically, (N, C, H, W) for activations and (K, C, R, S) for filters.
//   nchw: channels first: x (N, C, H, W), w (K, C, R, S)
//   nhwc: channels last:  x (N, H, W, C), w (K, R, S, C) (cuDNN's NHWC filter order)
// (Sequences have their own two orders, time-major and batch-first: layers/gru.h.)
#pragma once
#include <cstdint>
#include <string>

#include "runtime/host_device.h"

namespace rosetta {

enum class Layout : std::int32_t { nchw = 0, nhwc = 1 };

const char* layout_name(Layout layout);  // "nchw", "nhwc"
// Inverse of layout_name; false for any other name.
bool layout_from_name(const std::string& name, Layout* layout);

// Offset of element (n, c, h, w) of a tensor of logical dimensions (N, C, H, W) stored in `layout`.
ROSETTA_HD std::int64_t element_offset(Layout layout, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                                       std::int64_t C, std::int64_t H, std::int64_t W) {
  return layout == Layout::nhwc ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

// An (N, C, HW) tensor in `layout` viewed as (outer, channels, inner) rows, the view of the per-channel ops
// (bias, batch norm, epilogues): NCHW is (N, C, HW), NHWC is (N * HW, C, 1).
struct ChannelView {
  std::int64_t outer, channels, inner;
};
inline ChannelView channel_view(Layout layout, std::int64_t n, std::int64_t c, std::int64_t hw) {
  return layout == Layout::nhwc ? ChannelView{n * hw, c, 1} : ChannelView{n, c, hw};
}

}  // namespace rosetta
