#include "models/cifar_vgg_options.h"

namespace rosetta {

const char* relu_order_name(ReluOrder order) { return order == ReluOrder::after_pool ? "after-pool" : "before-pool"; }

bool relu_order_from_name(const std::string& name, ReluOrder* order) {
  for (ReluOrder o : {ReluOrder::before_pool, ReluOrder::after_pool})
    if (name == relu_order_name(o)) {
      *order = o;
      return true;
    }
  return false;
}

std::int64_t CifarVggOptions::padded(std::int64_t channels) const {
  return (channels + channel_multiple - 1) / channel_multiple * channel_multiple;
}

std::optional<OptionRule> CifarVggOptions::broken_rule() const {
  const bool nhwc = conv.layout == Layout::nhwc;
  if (conv.precision == Precision::bf16 && !nhwc) return OptionRule{"precision", "bf16", "layout", "nhwc"};
  if (nhwc && !fuse) return OptionRule{"layout", "nhwc", "fuse", "on"};
  if (channel_multiple > 1 && !nhwc) return OptionRule{"pad-channels", std::to_string(channel_multiple), "layout", "nhwc"};
  return std::nullopt;
}

}  // namespace rosetta
