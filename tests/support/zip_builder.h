// Zip archives assembled in memory for the tests of the zip and imdb.npz readers (and the fuzz seed generator):
// members stored or deflated (raw deflate, zlib level 9, as Python's zipfile writes ZIP_DEFLATED), optionally lying
// about their extracted size, so a test builds a zip bomb or a false declaration without Python. Header-only, no
// GoogleTest. Invariants: the records are APPNOTE 6.3's (as datasets/zip.cpp documents them), without zip64;
// the CRC-32 is the true one of the member's data, whatever the declaration.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/bytes.h"
#include "datasets/zip.h"

namespace rosetta::testing {

struct ZipBuildMember {
  std::string name;
  std::vector<std::uint8_t> data;
  bool deflate = false;
  std::int64_t declared_size = -1;  // the uncompressed size the central directory states; -1: the true one
};

// Raw deflate (no zlib header) of `data` at level 9.
inline std::vector<std::uint8_t> deflate_raw(const std::vector<std::uint8_t>& data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::vector<std::uint8_t> out(deflateBound(&z, static_cast<uLong>(data.size())));
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

// The archive holding `members` in order.
inline std::vector<std::uint8_t> zip_bytes(const std::vector<ZipBuildMember>& members) {
  using bytes::store_le;
  std::vector<std::uint8_t> out, central;
  for (const ZipBuildMember& m : members) {
    const std::vector<std::uint8_t> stored = m.deflate ? deflate_raw(m.data) : m.data;
    const std::uint16_t method = m.deflate ? 8 : 0;
    const std::uint32_t crc = zip_crc32(m.data.data(), m.data.size());
    const auto compressed = static_cast<std::uint32_t>(stored.size());
    const auto declared = static_cast<std::uint32_t>(m.declared_size >= 0 ? m.declared_size : m.data.size());
    const auto name_size = static_cast<std::uint16_t>(m.name.size());
    const auto offset = static_cast<std::uint32_t>(out.size());
    store_le<std::uint32_t>(out, 0x04034b50u);
    for (std::uint16_t v : {std::uint16_t{20}, std::uint16_t{0}, method, std::uint16_t{0}, std::uint16_t{0x21}})
      store_le<std::uint16_t>(out, v);  // version, flags, method, time, date
    for (std::uint32_t v : {crc, compressed, declared}) store_le<std::uint32_t>(out, v);
    store_le<std::uint16_t>(out, name_size);
    store_le<std::uint16_t>(out, 0);
    out.insert(out.end(), m.name.begin(), m.name.end());
    out.insert(out.end(), stored.begin(), stored.end());

    store_le<std::uint32_t>(central, 0x02014b50u);
    for (std::uint16_t v : {std::uint16_t{20}, std::uint16_t{20}, std::uint16_t{0}, method, std::uint16_t{0},
                            std::uint16_t{0x21}})
      store_le<std::uint16_t>(central, v);  // made by, needed, flags, method, time, date
    for (std::uint32_t v : {crc, compressed, declared}) store_le<std::uint32_t>(central, v);
    for (std::uint16_t v : {name_size, std::uint16_t{0}, std::uint16_t{0}, std::uint16_t{0}, std::uint16_t{0}})
      store_le<std::uint16_t>(central, v);  // name, extra, comment lengths; disk; internal attributes
    store_le<std::uint32_t>(central, 0);
    store_le<std::uint32_t>(central, offset);
    central.insert(central.end(), m.name.begin(), m.name.end());
  }
  const auto central_offset = static_cast<std::uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  store_le<std::uint32_t>(out, 0x06054b50u);
  const auto count = static_cast<std::uint16_t>(members.size());
  for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{0}, count, count}) store_le<std::uint16_t>(out, v);
  store_le<std::uint32_t>(out, static_cast<std::uint32_t>(central.size()));
  store_le<std::uint32_t>(out, central_offset);
  store_le<std::uint16_t>(out, 0);
  return out;
}

}  // namespace rosetta::testing
