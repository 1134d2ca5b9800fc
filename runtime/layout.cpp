#include "runtime/layout.h"

namespace rosetta {

const char* layout_name(Layout layout) { return layout == Layout::nhwc ? "nhwc" : "nchw"; }

bool layout_from_name(const std::string& name, Layout* layout) {
  for (Layout l : {Layout::nchw, Layout::nhwc})
    if (name == layout_name(l)) {
      *layout = l;
      return true;
    }
  return false;
}

}  // namespace rosetta
