// The persistent GRU's launch layout (kernels/gru_persistent_layout.h).
#include "kernels/gru_persistent_layout.h"

#include <algorithm>
#include <sstream>

#include "kernels/gru.h"
#include "runtime/error.h"

namespace rosetta::kernels {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int64_t whole_warps(std::int64_t threads) { return ceil_div(threads, 32) * 32; }

}  // namespace

std::optional<GruPersistentLayout> plan_gru_persistent_layout(const GruShape& shape, const GruPersistentDevice& device,
                                                              std::string* refusal) {
  validate_gru_shape(shape);
  ROSETTA_CHECK(device.sm_count > 0, "a device of " << device.sm_count << " SMs for the persistent GRU");
  const std::int64_t h = shape.h, gates = 3 * shape.h;
  std::ostringstream why;
  why << "the persistent GRU keeps W_hh (3H x H, " << gates * h * 4 / 1024 << " KB in fp32) in the registers of each "
      << "block, and no compiled tile fits " << shape.str() << ":";
  for (int v = 0; v < static_cast<int>(std::size(kGruPersistentVariants)); ++v) {
    const GruPersistentVariant& tile = kGruPersistentVariants[v];
    const std::int64_t forward_slices = ceil_div(h, tile.columns_per_thread);
    const std::int64_t backward_slices = ceil_div(gates, tile.columns_per_thread);
    const std::int64_t forward_tiles = ceil_div(gates, tile.rows_per_thread) * forward_slices;
    const std::int64_t backward_tiles = ceil_div(h, tile.rows_per_thread) * backward_slices;
    // Per sequence: its padded vector (h, or d(ah)) and one partial sum per slice and output.
    const std::size_t forward_bytes =
        static_cast<std::size_t>(forward_slices * tile.columns_per_thread + forward_slices * gates) * sizeof(float);
    const std::size_t backward_bytes =
        static_cast<std::size_t>(backward_slices * tile.columns_per_thread + backward_slices * h) * sizeof(float);
    const std::int64_t threads_for_one = whole_warps(std::max({forward_tiles, backward_tiles, h}));
    why << (v == 0 ? " " : "; ") << tile.rows_per_thread << "x" << tile.columns_per_thread << " tiles need "
        << threads_for_one << " threads a block (at most " << tile.max_threads << ")";
    if (threads_for_one > tile.max_threads) continue;
    if (std::max(forward_bytes, backward_bytes) > device.max_shared_bytes) {
      why << " and " << std::max(forward_bytes, backward_bytes) << " bytes of shared memory (the device has "
          << device.max_shared_bytes << ")";
      continue;
    }
    const std::int64_t wanted = ceil_div(shape.n, device.sm_count);  // one wave of blocks
    const std::int64_t by_threads = tile.max_threads / h;
    const std::int64_t by_shared = static_cast<std::int64_t>(device.max_shared_bytes / std::max(forward_bytes, backward_bytes));
    const std::int64_t sequences = std::max<std::int64_t>(1, std::min({wanted, by_threads, by_shared}));
    GruPersistentLayout layout;
    layout.variant = v;
    layout.forward_slices = static_cast<int>(forward_slices);
    layout.backward_slices = static_cast<int>(backward_slices);
    layout.forward_threads = static_cast<int>(whole_warps(std::max(forward_tiles, sequences * h)));
    layout.backward_threads = static_cast<int>(whole_warps(std::max(backward_tiles, sequences * h)));
    layout.sequences_per_block = static_cast<int>(sequences);
    layout.blocks = static_cast<int>(ceil_div(shape.n, sequences));
    layout.forward_shared_bytes = static_cast<std::size_t>(sequences) * forward_bytes;
    layout.backward_shared_bytes = static_cast<std::size_t>(sequences) * backward_bytes;
    return layout;
  }
  if (refusal != nullptr) *refusal = why.str();
  return std::nullopt;
}

}  // namespace rosetta::kernels
