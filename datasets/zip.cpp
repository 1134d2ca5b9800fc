// Zip reader and stored-member writer, as specified in zip.h. Record layouts (APPNOTE 6.3, all little-endian):
//   end of central directory (22 bytes + comment): signature 0x06054b50, disk, disk of the central directory,
//     entries on this disk, entries in total, central directory size, central directory offset, comment length;
//   central directory entry (46 bytes + name + extra + comment): signature 0x02014b50, version made by, version
//     needed, flags, method, time, date, crc-32, compressed size, uncompressed size, name length, extra length,
//     comment length, disk start, internal attributes, external attributes, local header offset;
//   local header (30 bytes + name + extra): signature 0x04034b50, version needed, flags, method, time, date,
//     crc-32, compressed size, uncompressed size, name length, extra length; the data follows.
#include "datasets/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <sstream>

#include "datasets/bytes.h"
#include "runtime/atomic_file.h"
#include "runtime/error.h"
#include "runtime/input_file.h"

namespace rosetta {
namespace {
using bytes::load_le;
using bytes::quoted;
using bytes::store_le;

constexpr std::uint32_t kEndSignature = 0x06054b50u;
constexpr std::uint32_t kCentralSignature = 0x02014b50u;
constexpr std::uint32_t kLocalSignature = 0x04034b50u;
constexpr std::size_t kEndBytes = 22;
constexpr std::size_t kCentralBytes = 46;
constexpr std::size_t kLocalBytes = 30;
constexpr std::size_t kMaxComment = 0xffff;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint16_t kFlagEncrypted = 0x0001;
constexpr std::uint16_t kFlagStrongEncryption = 0x0040;


// Replaces the 32-bit fields that hold 0xffffffff (and the 16-bit disk that holds 0xffff) by the values of a zip64
// extra field in `extra`, in APPNOTE order: uncompressed size, compressed size, local header offset, disk.
// Local headers pass offset == nullptr (they have no offset field). Returns the error text, empty when fine.
std::string apply_zip64_extra(const std::uint8_t* extra, std::size_t extra_size, std::uint64_t* uncompressed,
                              std::uint64_t* compressed, std::uint64_t* offset) {
  std::size_t pos = 0;
  while (pos + 4 <= extra_size) {
    const std::uint16_t id = load_le<std::uint16_t>(extra + pos);
    const std::uint16_t size = load_le<std::uint16_t>(extra + pos + 2);
    pos += 4;
    if (pos + size > extra_size) return "extra field " + std::to_string(id) + " runs past the extra data";
    if (id == kZip64ExtraId) {
      std::size_t field = pos;
      for (std::uint64_t* value : {uncompressed, compressed, offset}) {
        if (value == nullptr || *value != 0xffffffffu) continue;
        if (field + 8 > pos + size) return "zip64 extra field too short for the values it replaces";
        *value = load_le<std::uint64_t>(extra + field);
        field += 8;
      }
    }
    pos += size;
  }
  if (pos != extra_size) return "extra data ends inside a field header";
  return "";
}

// The member's place in messages: "path: member 'name' (central entry at byte N)".
std::string member_where(const std::string& path, const ZipMember& m) {
  std::ostringstream os;
  os << path << ": member " << quoted(m.name) << " (central directory entry at byte " << m.central_entry_offset << ")";
  return os.str();
}

struct InflateStream {
  z_stream stream{};
  bool initialised = false;
  ~InflateStream() {
    if (initialised) inflateEnd(&stream);
  }
};

// Inflates raw deflate data into exactly `declared` bytes, growing the output only as data arrives.
std::vector<std::uint8_t> inflate_raw(const std::vector<std::uint8_t>& compressed, std::uint64_t declared,
                                      const std::string& where, std::uint64_t data_offset) {
  InflateStream z;
  if (inflateInit2(&z.stream, -15) != Z_OK) ROSETTA_FAIL("zlib inflateInit2 failed");
  z.initialised = true;
  z.stream.next_in = const_cast<Bytef*>(compressed.data());
  z.stream.avail_in = static_cast<uInt>(compressed.size());  // <= the 1 GiB cap, checked by the caller
  constexpr std::uint64_t kFirstChunk = 64 * 1024;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(std::min(declared + 1, kFirstChunk)));
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (produced > declared) {
        ROSETTA_INPUT_ERROR(where << ": data at byte " << data_offset << " inflates to more than the declared "
                                  << declared << " bytes");
      }
      out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(2 * out.size(), declared + 1)));
    }
    z.stream.next_out = out.data() + produced;
    z.stream.avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = inflate(&z.stream, Z_NO_FLUSH);
    produced = out.size() - z.stream.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.stream.avail_in == 0) {
      ROSETTA_INPUT_ERROR(where << ": deflate data at byte " << data_offset << " is truncated (ends after "
                                << compressed.size() << " compressed bytes, " << produced << " bytes out)");
    }
    if (rc == Z_BUF_ERROR) continue;  // no room for output: the buffer grows above
    ROSETTA_INPUT_ERROR(where << ": deflate data at byte " << data_offset + z.stream.total_in
                              << " is corrupt: " << (z.stream.msg ? z.stream.msg : "zlib error " + std::to_string(rc)));
  }
  if (produced != declared) {
    ROSETTA_INPUT_ERROR(where << ": data at byte " << data_offset << " inflates to " << produced
                              << " bytes, but the central directory declares " << declared);
  }
  out.resize(produced);
  return out;
}

}  // namespace

std::uint32_t zip_crc32(const std::uint8_t* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr std::size_t kChunk = std::size_t{1} << 30;
  for (std::size_t done = 0; done < size; done += kChunk) {
    crc = crc32(crc, data + done, static_cast<uInt>(std::min(kChunk, size - done)));
  }
  return static_cast<std::uint32_t>(crc);
}

ZipArchive ZipArchive::open(const std::string& path) {
  const InputFile file(path, "a zip archive");
  ZipArchive zip;
  zip.path_ = path;
  zip.file_size_ = file.size();
  if (zip.file_size_ < kEndBytes) {
    ROSETTA_INPUT_ERROR(path << ": " << zip.file_size_ << " bytes, too short for a zip archive (at least "
                             << kEndBytes << ")");
  }

  // The end record: the last signature whose comment length reaches exactly to the end of the file.
  const std::uint64_t tail_size = std::min<std::uint64_t>(zip.file_size_, kEndBytes + kMaxComment);
  const std::uint64_t tail_offset = zip.file_size_ - tail_size;
  std::vector<std::uint8_t> tail(static_cast<std::size_t>(tail_size));
  file.read_at(tail_offset, tail.data(), tail.size(), "the archive's end records");
  std::int64_t end_pos = -1;
  for (std::int64_t p = static_cast<std::int64_t>(tail_size - kEndBytes); p >= 0; --p) {
    const std::uint8_t* r = tail.data() + p;
    if (load_le<std::uint32_t>(r) == kEndSignature &&
        static_cast<std::uint64_t>(p) + kEndBytes + load_le<std::uint16_t>(r + 20) == tail_size) {
      end_pos = p;
      break;
    }
  }
  if (end_pos < 0) {
    ROSETTA_INPUT_ERROR(path << ": no end-of-central-directory record in the last " << tail_size
                             << " bytes: not a zip archive (.npz), or truncated");
  }
  const std::uint8_t* end = tail.data() + end_pos;
  const std::uint64_t end_offset = tail_offset + static_cast<std::uint64_t>(end_pos);
  const std::uint16_t disk = load_le<std::uint16_t>(end + 4), cd_disk = load_le<std::uint16_t>(end + 6);
  const std::uint16_t entries_here = load_le<std::uint16_t>(end + 8), entries = load_le<std::uint16_t>(end + 10);
  const std::uint32_t cd_size = load_le<std::uint32_t>(end + 12), cd_offset = load_le<std::uint32_t>(end + 16);
  if (entries == 0xffffu || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    ROSETTA_INPUT_ERROR(path << ": byte " << end_offset
                             << ": zip64 end-of-central-directory record (over 4 GiB or 65535 members) is not supported");
  }
  if (disk != 0 || cd_disk != 0 || entries_here != entries) {
    ROSETTA_INPUT_ERROR(path << ": byte " << end_offset << ": multi-disk archives are not supported");
  }
  if (std::uint64_t{cd_offset} + cd_size > end_offset) {
    ROSETTA_INPUT_ERROR(path << ": byte " << end_offset << ": the central directory (" << cd_size
                             << " bytes at byte " << cd_offset << ") runs past the end record at byte " << end_offset
                             << " (truncated or corrupt archive)");
  }
  zip.central_directory_offset_ = cd_offset;

  std::vector<std::uint8_t> cd(cd_size);
  file.read_at(cd_offset, cd.data(), cd.size(), "the central directory");
  std::set<std::string> names;
  std::size_t pos = 0;
  for (std::uint16_t i = 0; i < entries; ++i) {
    const std::uint64_t at = cd_offset + pos;
    if (pos + kCentralBytes > cd.size() || load_le<std::uint32_t>(cd.data() + pos) != kCentralSignature) {
      ROSETTA_INPUT_ERROR(path << ": byte " << at << ": central directory entry " << i << " of " << entries
                               << " is missing or corrupt (truncated central directory)");
    }
    const std::uint8_t* e = cd.data() + pos;
    ZipMember m;
    m.central_entry_offset = at;
    m.flags = load_le<std::uint16_t>(e + 8);
    m.method = load_le<std::uint16_t>(e + 10);
    m.crc32 = load_le<std::uint32_t>(e + 16);
    m.compressed_size = load_le<std::uint32_t>(e + 20);
    m.uncompressed_size = load_le<std::uint32_t>(e + 24);
    const std::size_t name_size = load_le<std::uint16_t>(e + 28), extra_size = load_le<std::uint16_t>(e + 30),
                      comment_size = load_le<std::uint16_t>(e + 32);
    m.local_header_offset = load_le<std::uint32_t>(e + 42);
    if (pos + kCentralBytes + name_size + extra_size + comment_size > cd.size()) {
      ROSETTA_INPUT_ERROR(path << ": byte " << at << ": central directory entry " << i
                               << " runs past the central directory (truncated central directory)");
    }
    m.name.assign(reinterpret_cast<const char*>(e + kCentralBytes), name_size);
    const std::string extra_error = apply_zip64_extra(e + kCentralBytes + name_size, extra_size,
                                                      &m.uncompressed_size, &m.compressed_size, &m.local_header_offset);
    if (!extra_error.empty()) ROSETTA_INPUT_ERROR(member_where(path, m) << ": " << extra_error);
    if (m.name.empty() || m.name.find('\0') != std::string::npos) {
      ROSETTA_INPUT_ERROR(member_where(path, m) << ": empty name or a name with a NUL byte");
    }
    if (!names.insert(m.name).second) ROSETTA_INPUT_ERROR(member_where(path, m) << ": duplicate member name");
    if (m.flags & (kFlagEncrypted | kFlagStrongEncryption)) {
      ROSETTA_INPUT_ERROR(member_where(path, m) << ": encrypted members are not supported");
    }
    if (m.method != 0 && m.method != 8) {
      ROSETTA_INPUT_ERROR(member_where(path, m) << ": compression method " << m.method
                                                << " is not supported (only 0 stored and 8 deflated)");
    }
    zip.members_.push_back(std::move(m));
    pos += kCentralBytes + name_size + extra_size + comment_size;
  }
  return zip;
}

const ZipMember* ZipArchive::find(const std::string& name) const {
  for (const ZipMember& m : members_)
    if (m.name == name) return &m;
  return nullptr;
}

std::string ZipArchive::member_list() const {
  constexpr std::size_t kListed = 8;  // a message stays one readable line whatever the archive holds
  std::string list;
  for (std::size_t i = 0; i < members_.size() && i < kListed; ++i) list += (i ? ", " : "") + quoted(members_[i].name);
  if (members_.size() > kListed) list += " and " + std::to_string(members_.size() - kListed) + " more";
  return list.empty() ? "none" : list;
}

std::vector<std::uint8_t> ZipArchive::read(const ZipMember& m, std::uint64_t max_bytes) const {
  const std::string where = member_where(path_, m);
  if (m.uncompressed_size > max_bytes || m.compressed_size > max_bytes) {
    ROSETTA_INPUT_ERROR(where << ": declares " << m.uncompressed_size << " bytes (" << m.compressed_size
                              << " compressed), above the cap of " << max_bytes << " bytes per member");
  }
  if (m.method == 8 && m.uncompressed_size > kZipSmallMemberBytes &&
      (m.uncompressed_size - 1) / kZipMaxInflation >= m.compressed_size) {  // uncompressed > 64 x compressed
    ROSETTA_INPUT_ERROR(where << ": declares " << m.uncompressed_size << " bytes from " << m.compressed_size
                              << " compressed, more than the cap of " << kZipMaxInflation
                              << " times for a member above " << kZipSmallMemberBytes << " bytes");
  }
  if (m.method == 0 && m.compressed_size != m.uncompressed_size) {
    ROSETTA_INPUT_ERROR(where << ": stored member declares " << m.compressed_size << " compressed but "
                              << m.uncompressed_size << " uncompressed bytes");
  }
  const InputFile file(path_, "a zip archive");
  if (m.local_header_offset > central_directory_offset_ ||
      central_directory_offset_ - m.local_header_offset < kLocalBytes) {
    ROSETTA_INPUT_ERROR(where << ": local header at byte " << m.local_header_offset
                              << " lies outside the member data (before byte " << central_directory_offset_ << ")");
  }
  std::uint8_t local[kLocalBytes];
  file.read_at(m.local_header_offset, local, kLocalBytes, "a local header");
  if (load_le<std::uint32_t>(local) != kLocalSignature) {
    ROSETTA_INPUT_ERROR(where << ": byte " << m.local_header_offset << ": no local header signature");
  }
  const std::uint16_t method = load_le<std::uint16_t>(local + 8);
  const std::size_t name_size = load_le<std::uint16_t>(local + 26), extra_size = load_le<std::uint16_t>(local + 28);
  const std::uint64_t data_offset = m.local_header_offset + kLocalBytes + name_size + extra_size;
  if (data_offset > central_directory_offset_ ||
      m.compressed_size > central_directory_offset_ - data_offset) {
    ROSETTA_INPUT_ERROR(where << ": data (" << m.compressed_size << " bytes at byte " << data_offset
                              << ") runs past the member area, which ends at byte " << central_directory_offset_
                              << " (truncated or corrupt archive)");
  }
  std::vector<std::uint8_t> name(name_size);
  file.read_at(m.local_header_offset + kLocalBytes, name.data(), name_size, "a local header's name");
  if (std::string(name.begin(), name.end()) != m.name || method != m.method) {
    ROSETTA_INPUT_ERROR(where << ": byte " << m.local_header_offset
                              << ": the local header disagrees with the central directory (name or method)");
  }
  std::vector<std::uint8_t> data(static_cast<std::size_t>(m.compressed_size));
  file.read_at(data_offset, data.data(), data.size(), "a member's data");
  if (m.method == 8) data = inflate_raw(data, m.uncompressed_size, where, data_offset);
  const std::uint32_t crc = zip_crc32(data.data(), data.size());
  if (crc != m.crc32) {
    std::ostringstream os;
    os << std::hex << "CRC-32 of the extracted data is 0x" << crc << ", the central directory declares 0x" << m.crc32;
    ROSETTA_INPUT_ERROR(where << ": data at byte " << data_offset << ": " << os.str() << " (corrupt archive)");
  }
  return data;
}

void write_zip_stored(const std::string& path, const std::vector<ZipEntryView>& members) {
  ROSETTA_CHECK(members.size() < 0xffffu, "a zip archive without zip64 holds fewer than 65535 members, got "
                                              << members.size());
  std::set<std::string> names;
  std::uint64_t archive_bytes = kEndBytes;
  for (const ZipEntryView& m : members) {
    ROSETTA_CHECK(!m.name.empty() && m.name.size() < 0xffffu &&
                      std::all_of(m.name.begin(), m.name.end(), [](char c) { return c >= 0x20 && c < 0x7f; }),
                  "zip member name " << quoted(m.name) << " must be non-empty printable ASCII");
    ROSETTA_CHECK(names.insert(m.name).second, "duplicate zip member name " << quoted(m.name));
    archive_bytes += kLocalBytes + kCentralBytes + 2 * m.name.size() + m.size;
    ROSETTA_CHECK(archive_bytes < 0xffffffffu, "zip archive would pass 4 GiB at member " << quoted(m.name)
                                                   << "; stored archives without zip64 hold under 4 GiB");
  }
  constexpr std::uint16_t kVersion = 20;       // 2.0: deflate-era features, no zip64
  constexpr std::uint16_t kDosTime = 0;        // 00:00:00
  constexpr std::uint16_t kDosDate = 0x21;     // 1980-01-01
  std::vector<std::uint8_t> central;
  std::vector<std::uint8_t> header;
  std::uint64_t offset = 0;

  {
    AtomicFile file(path);
    auto write = [&](const std::uint8_t* data, std::size_t size) {
      file.write(data, size);
      offset += size;
    };
    for (const ZipEntryView& m : members) {
      const std::uint32_t crc = zip_crc32(m.data, m.size);
      const std::uint32_t size = static_cast<std::uint32_t>(m.size);
      const std::uint16_t name_size = static_cast<std::uint16_t>(m.name.size());
      const std::uint32_t local_offset = static_cast<std::uint32_t>(offset);
      header.clear();
      store_le<std::uint32_t>(header, kLocalSignature);
      for (std::uint16_t v : {kVersion, std::uint16_t{0}, std::uint16_t{0}, kDosTime, kDosDate})
        store_le<std::uint16_t>(header, v);
      for (std::uint32_t v : {crc, size, size}) store_le<std::uint32_t>(header, v);
      store_le<std::uint16_t>(header, name_size);
      store_le<std::uint16_t>(header, 0);  // extra length
      header.insert(header.end(), m.name.begin(), m.name.end());
      write(header.data(), header.size());
      write(m.data, m.size);

      store_le<std::uint32_t>(central, kCentralSignature);
      for (std::uint16_t v : {kVersion, kVersion, std::uint16_t{0}, std::uint16_t{0}, kDosTime, kDosDate})
        store_le<std::uint16_t>(central, v);
      for (std::uint32_t v : {crc, size, size}) store_le<std::uint32_t>(central, v);
      for (std::uint16_t v : {name_size, std::uint16_t{0}, std::uint16_t{0}, std::uint16_t{0}, std::uint16_t{0}})
        store_le<std::uint16_t>(central, v);  // name, extra, comment lengths; disk; internal attributes
      store_le<std::uint32_t>(central, 0);    // external attributes
      store_le<std::uint32_t>(central, local_offset);
      central.insert(central.end(), m.name.begin(), m.name.end());
    }
    const std::uint32_t cd_offset = static_cast<std::uint32_t>(offset);
    write(central.data(), central.size());
    header.clear();
    store_le<std::uint32_t>(header, kEndSignature);
    const std::uint16_t count = static_cast<std::uint16_t>(members.size());
    for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{0}, count, count}) store_le<std::uint16_t>(header, v);
    store_le<std::uint32_t>(header, static_cast<std::uint32_t>(central.size()));
    store_le<std::uint32_t>(header, cd_offset);
    store_le<std::uint16_t>(header, 0);  // comment length
    write(header.data(), header.size());
    file.commit();
  }
}

}  // namespace rosetta
