// `rosetta inspect FILE.safetensors`: one line per tensor in data-section order ("name  dtype  shape  bytes",
// aligned), a total line, then the __metadata__ pairs if any. All checks are SafetensorsFile::open's, so a
// malformed file is one InputError line.
#include "bench/cli/inspect.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "runtime/safetensors.h"

namespace rosetta::cli {

void print_inspection(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  struct Row {
    std::string name, dtype, shape, bytes;
  };
  std::vector<Row> rows;
  std::size_t widths[3] = {0, 0, 0};  // name, dtype, shape
  std::uint64_t elements = 0, bytes = 0;
  for (const SafetensorsEntry& entry : file.entries()) {
    rows.push_back(Row{printable_text(entry.name), entry.dtype_name, entry.shape.str(), std::to_string(entry.nbytes())});
    widths[0] = std::max(widths[0], rows.back().name.size());
    widths[1] = std::max(widths[1], rows.back().dtype.size());
    widths[2] = std::max(widths[2], rows.back().shape.size());
    elements += static_cast<std::uint64_t>(entry.shape.numel());  // <= bytes: no overflow
    bytes += entry.nbytes();
  }
  for (const Row& row : rows)
    std::printf("%-*s  %-*s  %-*s  %s\n", static_cast<int>(widths[0]), row.name.c_str(), static_cast<int>(widths[1]),
                row.dtype.c_str(), static_cast<int>(widths[2]), row.shape.c_str(), row.bytes.c_str());
  std::printf("total: %zu tensors, %llu elements, %llu bytes\n", rows.size(), static_cast<unsigned long long>(elements),
              static_cast<unsigned long long>(bytes));
  if (file.metadata().empty()) return;
  std::printf("metadata:\n");
  for (const auto& [key, value] : file.metadata())
    std::printf("  %s: %s\n", printable_text(key).c_str(), printable_text(value).c_str());
}

}  // namespace rosetta::cli
