// Zip archives, as numpy's .npz files use them (PKWARE APPNOTE 6.3): a reader for members stored (method 0) or
// deflated (method 8, raw deflate through zlib), and a writer of stored members.
//
// Reader invariants. open() finds the end-of-central-directory record (the last 22 + comment bytes of the file;
// a single-disk archive whose central directory lies inside the file, before that record) and parses every
// central directory entry; names are unique, members unencrypted, methods 0 or 8. Zip64 is supported where
// numpy uses it: the zip64 extra field (0x0001) of central and local headers (np.savez always writes one in
// the local header). An end record that defers to a zip64 end record (0xffff / 0xffffffff in its counts, size
// or offset: archives over 4 GiB or 65535 members) is rejected. Sizes and the
// CRC-32 come from the central directory (so data descriptors, flag bit 3, need no special case); the local
// header only locates the data and must repeat the member's name and method.
// read() never trusts a declared size: a member's declared and compressed sizes are capped (1 GiB by default),
// its data must lie inside the file before the central directory, a deflated member above 1 MiB may declare at
// most 64 times its compressed size (kZipMaxInflation), all checked before a byte is read; it is inflated into a
// buffer that grows only as output arrives and may never pass the declared size, the final size must equal the
// declared one, and the CRC-32 of the extracted bytes must match. So a read costs at most the cap, and at most
// max(64 x its compressed bytes, 1 MiB): a small archive cannot ask for much memory. Every violation is one
// InputError line naming the file, the member and the byte offset in the file. Time: open() is linear in the
// central directory (at most 65535 entries, inside the file), read() in the member's compressed and extracted bytes.
//
// Writer invariants. write_zip_stored() writes the members in order, stored (no compression), with a fixed
// timestamp (1980-01-01 00:00, so equal inputs give byte-identical files) and no zip64 records, which caps each
// member and the whole archive below 4 GiB. The file appears at `path` only after a complete, flushed write
// (through `path`.tmp, then rename); a failed write leaves any existing file untouched and no temporary behind.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta {

constexpr std::uint64_t kZipMaxMemberBytes = std::uint64_t{1} << 30;  // 1 GiB: default cap on one member
// Real numpy arrays deflate by 1.5-30x (an imdb.npz of Keras' statistics: 1.9x for the word lists, 26x for the
// 0/1 labels); deflate itself reaches 1032x, which only constructed data approaches (a zip bomb). 64x is twice the
// most compressible real member, and is checked against the declarations before inflating. Members that extract
// to at most 1 MiB are exempt: whatever their ratio they cost little, and a labels array (200 KB) may compress
// far better.
constexpr std::uint64_t kZipMaxInflation = 64;
constexpr std::uint64_t kZipSmallMemberBytes = std::uint64_t{1} << 20;

struct ZipMember {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;  // bytes into the file
  std::uint64_t central_entry_offset = 0; // where its central directory entry starts, for messages
};

class ZipArchive {
 public:
  // Reads and checks the central directory; throws InputError on a missing, unreadable or malformed file.
  static ZipArchive open(const std::string& path);

  const std::string& path() const { return path_; }
  // In central directory order.
  const std::vector<ZipMember>& members() const { return members_; }
  // The member called `name`, or nullptr.
  const ZipMember* find(const std::string& name) const;
  // The names of the first 8 members, comma-separated, and how many more, for messages.
  std::string member_list() const;

  // The extracted bytes of `member` (one of members()), checked as described above; `max_bytes` caps both its
  // declared and its compressed size.
  std::vector<std::uint8_t> read(const ZipMember& member, std::uint64_t max_bytes = kZipMaxMemberBytes) const;

 private:
  std::string path_;
  std::uint64_t file_size_ = 0;
  std::uint64_t central_directory_offset_ = 0;  // members' data must end before it
  std::vector<ZipMember> members_;
};

// One member for write_zip_stored: `size` bytes at `data`, which must stay valid during the call.
struct ZipEntryView {
  std::string name;  // printable ASCII, unique
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

// Writes `members` into a new zip archive at `path`, stored, as described above. Throws InputError when the
// file cannot be written, Error when the members break the format's limits (names, sizes below 4 GiB).
void write_zip_stored(const std::string& path, const std::vector<ZipEntryView>& members);

// The CRC-32 (ISO-HDLC, as zip and zlib use it) of `size` bytes.
std::uint32_t zip_crc32(const std::uint8_t* data, std::size_t size);

}  // namespace rosetta
