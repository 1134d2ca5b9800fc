// Zip reader and stored writer: archives written by Python's zipfile (stored, deflated, zip64 extra fields, data
// descriptors, empty members) read back byte-exactly; rosetta's own archives read back by rosetta and by
// Python; and hostile archives (bad CRC, truncated data, truncated or lying central directory, zip-bomb declared
// sizes and compression ratios, corrupt deflate data, zip64 end records, encryption, other methods, duplicate
// names, 65534 members), each one clean InputError line naming the file, the member and a byte offset, in
// measured, bounded memory where the archive asks for much.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "datasets/bytes.h"
#include "datasets/zip.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"
#include "tests/support/zip_builder.h"

namespace rosetta {
namespace {

using testing::expect_message;
using testing::input_error;
using testing::TempDir;

std::string to_string(const std::vector<std::uint8_t>& b) { return std::string(b.begin(), b.end()); }

// Compressible but not trivial: byte i of a test payload.
std::vector<std::uint8_t> payload(std::size_t n, unsigned salt) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>((i * 7 + (i >> 8) * 13 + salt) % 251);
  return out;
}

std::uint32_t u32_at(const std::string& b, std::size_t at) {
  return bytes::load_le<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(b.data()) + at);
}
void put_u16(std::string& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<char>(v & 0xff);
  b[at + 1] = static_cast<char>(v >> 8);
}
void put_u32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// A stored archive written by rosetta: members "first.bin" (1000 bytes) and "second.bin" (300 bytes).
// Offsets of its records, for surgery: the central directory and end record positions.
struct StoredArchive {
  std::string bytes;
  std::size_t end_record = 0;       // offset of the end-of-central-directory record
  std::size_t central = 0;          // offset of the central directory
  std::size_t second_central = 0;   // offset of second.bin's central entry
  std::size_t first_data = 0;       // offset of first.bin's data
};

StoredArchive stored_archive(const TempDir& dir) {
  const std::vector<std::uint8_t> first = payload(1000, 1), second = payload(300, 2);
  const std::string path = dir.file("stored.zip");
  write_zip_stored(path, {{"first.bin", first.data(), first.size()}, {"second.bin", second.data(), second.size()}});
  StoredArchive a;
  a.bytes = testing::read_file(path);
  a.end_record = a.bytes.size() - 22;
  a.central = u32_at(a.bytes, a.end_record + 16);
  a.second_central = a.central + 46 + std::strlen("first.bin");
  a.first_data = 30 + std::strlen("first.bin");
  return a;
}

// The InputError of opening `bytes` as an archive and reading every member.
std::string error_of(const TempDir& dir, const std::string& bytes, const std::string& name = "bad.zip") {
  const std::string path = dir.file(name);
  testing::write_file(path, bytes);
  return input_error([&] {
    const ZipArchive zip = ZipArchive::open(path);
    for (const ZipMember& m : zip.members()) zip.read(m);
  });
}

TEST(Zip, Crc32MatchesTheStandardCheckValue) {
  const std::string check = "123456789";  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(zip_crc32(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()), 0xCBF43926u);
  EXPECT_EQ(zip_crc32(nullptr, 0), 0u);
}

TEST(Zip, ReadsWhatRosettaWrites) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  const ZipArchive zip = ZipArchive::open(dir.file("stored.zip"));
  ASSERT_EQ(zip.members().size(), 2u);
  EXPECT_EQ(zip.members()[0].name, "first.bin");
  EXPECT_EQ(zip.members()[0].method, 0);
  EXPECT_EQ(zip.read(*zip.find("first.bin")), payload(1000, 1));
  EXPECT_EQ(zip.read(*zip.find("second.bin")), payload(300, 2));
  EXPECT_EQ(zip.find("third.bin"), nullptr);
  EXPECT_EQ(zip.member_list(), "'first.bin', 'second.bin'");
  // Deterministic bytes (fixed timestamp), no temporary left behind.
  const std::vector<std::uint8_t> first = payload(1000, 1), second = payload(300, 2);
  write_zip_stored(dir.file("again.zip"), {{"first.bin", first.data(), first.size()},
                                           {"second.bin", second.data(), second.size()}});
  EXPECT_EQ(testing::read_file(dir.file("again.zip")), a.bytes);
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"again.zip", "stored.zip"}));
}

TEST(Zip, EmptyArchiveAndEmptyMember) {
  TempDir dir;
  write_zip_stored(dir.file("none.zip"), {});
  EXPECT_TRUE(ZipArchive::open(dir.file("none.zip")).members().empty());
  write_zip_stored(dir.file("empty.zip"), {{"empty.bin", nullptr, 0}});
  const ZipArchive zip = ZipArchive::open(dir.file("empty.zip"));
  EXPECT_TRUE(zip.read(zip.members()[0]).empty());
}

TEST(Zip, WriterRejectsBadNamesAndLeavesNoFile) {
  TempDir dir;
  const std::uint8_t byte = 0;
  EXPECT_THROW(write_zip_stored(dir.file("x.zip"), {{"a", &byte, 1}, {"a", &byte, 1}}), Error);
  EXPECT_THROW(write_zip_stored(dir.file("x.zip"), {{"", &byte, 1}}), Error);
  EXPECT_THROW(write_zip_stored(dir.file("x.zip"), {{"new\nline", &byte, 1}}), Error);
  EXPECT_TRUE(dir.listing().empty());
  const std::string message =
      input_error([&] { write_zip_stored(dir.file("no_such_dir/x.zip"), {{"a", &byte, 1}}); });
  expect_message(message, {"no_such_dir/x.zip.tmp", "cannot create"});
}

TEST(Zip, PythonReadsWhatRosettaWrites) {
  ROSETTA_REQUIRE_NUMPY();  // any Python works; the numpy probe also proves the interpreter runs
  TempDir dir;
  stored_archive(dir);
  const testing::PythonRun run = testing::run_python(
      "import zipfile\n"
      "z = zipfile.ZipFile(r'" + dir.file("stored.zip") + "')\n"
      "assert z.testzip() is None\n"
      "a = z.read('first.bin'); b = z.read('second.bin')\n"
      "assert a == bytes((i * 7 + (i >> 8) * 13 + 1) % 251 for i in range(1000))\n"
      "assert b == bytes((i * 7 + (i >> 8) * 13 + 2) % 251 for i in range(300))\n"
      "print([i.compress_type for i in z.infolist()], [i.date_time for i in z.infolist()][0])\n");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output, "[0, 0] (1980, 1, 1, 0, 0, 0)\n");
}

// Archives from Python's zipfile: each member's expected bytes are written beside the archive.
TEST(Zip, ReadsPythonArchivesExactly) {
  ROSETTA_REQUIRE_NUMPY();
  TempDir dir;
  const testing::PythonRun run = testing::run_python(
      "import zipfile, random, os\n"
      "d = r'" + dir.path().string() + "'\n"
      "rnd = random.Random(5)\n"
      "members = {'stored.bin': (rnd.randbytes(70000), zipfile.ZIP_STORED),\n"
      "           'deflated.bin': (bytes(i % 97 for i in range(300000)), zipfile.ZIP_DEFLATED),\n"
      "           'incompressible.bin': (rnd.randbytes(100000), zipfile.ZIP_DEFLATED),\n"
      "           'empty.bin': (b'', zipfile.ZIP_DEFLATED)}\n"
      "with zipfile.ZipFile(os.path.join(d, 'python.zip'), 'w') as z:\n"
      "    for name, (data, method) in members.items():\n"
      "        z.writestr(name, data, compress_type=method)\n"
      "    with z.open('zip64.bin', 'w', force_zip64=True) as f:\n"  // as np.savez writes every member
      "        f.write(b'zip64 extra field in the local header' * 100)\n"
      "members['zip64.bin'] = (b'zip64 extra field in the local header' * 100, 0)\n"
      "class Sink:\n"  // not seekable: zipfile writes data descriptors (flag bit 3)
      "    def __init__(self, f): self.f = f\n"
      "    def write(self, b): return self.f.write(b)\n"
      "    def flush(self): self.f.flush()\n"
      "with open(os.path.join(d, 'descriptor.zip'), 'wb') as f:\n"
      "    with zipfile.ZipFile(Sink(f), 'w', compression=zipfile.ZIP_DEFLATED) as z:\n"
      "        z.writestr('dd.bin', b'data descriptor ' * 500)\n"
      "members['dd.bin'] = (b'data descriptor ' * 500, 0)\n"
      "for name, (data, _) in members.items():\n"
      "    open(os.path.join(d, 'expected_' + name), 'wb').write(data)\n"
      "print(zipfile.ZipFile(os.path.join(d, 'descriptor.zip')).infolist()[0].flag_bits & 8)\n");
  ASSERT_EQ(run.status, 0) << run.output;
  ASSERT_EQ(run.output, "8\n");  // the descriptor archive does use data descriptors
  const ZipArchive zip = ZipArchive::open(dir.file("python.zip"));
  ASSERT_EQ(zip.members().size(), 5u);
  for (const ZipMember& m : zip.members()) {
    EXPECT_EQ(to_string(zip.read(m)), testing::read_file(dir.file("expected_" + m.name))) << m.name;
  }
  EXPECT_EQ(zip.find("deflated.bin")->method, 8);
  EXPECT_EQ(zip.find("stored.bin")->method, 0);
  const ZipArchive descriptor = ZipArchive::open(dir.file("descriptor.zip"));
  EXPECT_EQ(descriptor.members()[0].flags & 8, 8);
  EXPECT_EQ(to_string(descriptor.read(descriptor.members()[0])), testing::read_file(dir.file("expected_dd.bin")));
}

// Sizes and offset moved into a zip64 extra field (what writers do for members over 4 GiB), in rosetta's archive.
TEST(Zip, Zip64ExtraFieldsReplaceTheSentinels) {
  TempDir dir;
  const std::vector<std::uint8_t> data = payload(1000, 3);
  write_zip_stored(dir.file("one.zip"), {{"one.bin", data.data(), data.size()}});
  const std::string plain = testing::read_file(dir.file("one.zip"));
  const std::size_t central = 30 + 7 + 1000, end = plain.size() - 22;
  auto with_extra = [&](std::uint64_t offset) {
    std::string b = plain.substr(0, central + 46 + 7);
    for (std::size_t field : {central + 20, central + 24, central + 42}) put_u32(b, field, 0xffffffffu);
    put_u16(b, central + 30, 28);
    std::string extra(28, '\0');
    put_u16(extra, 0, 0x0001);
    put_u16(extra, 2, 24);
    for (int i = 0; i < 8; ++i) {
      extra[4 + i] = static_cast<char>((1000ull >> (8 * i)) & 0xff);
      extra[12 + i] = static_cast<char>((1000ull >> (8 * i)) & 0xff);
      extra[20 + i] = static_cast<char>((offset >> (8 * i)) & 0xff);
    }
    b += extra + plain.substr(end);
    put_u32(b, b.size() - 22 + 12, 46 + 7 + 28);  // central directory size
    return b;
  };
  testing::write_file(dir.file("zip64.zip"), with_extra(0));
  const ZipArchive zip = ZipArchive::open(dir.file("zip64.zip"));
  EXPECT_EQ(zip.members()[0].uncompressed_size, 1000u);
  EXPECT_EQ(zip.read(zip.members()[0]), data);
  expect_message(error_of(dir, with_extra(std::uint64_t{1} << 62)), {"bad.zip", "'one.bin'", "outside the member data"});
  std::string short_extra = with_extra(0);
  put_u16(short_extra, central + 46 + 7 + 2, 16);  // room for two of the three replaced values
  expect_message(error_of(dir, short_extra), {"bad.zip", "'one.bin'", "zip64 extra field too short"});
}

TEST(Zip, MissingOrNonZipFile) {
  TempDir dir;
  expect_message(input_error([&] { ZipArchive::open(dir.file("nothing.zip")); }), {"nothing.zip", "no such file"});
  expect_message(input_error([&] { ZipArchive::open(dir.path().string()); }), {"is a directory, not a zip archive"});
  expect_message(error_of(dir, "short"), {"bad.zip", "too short"});
  expect_message(error_of(dir, std::string(5000, 'x')), {"bad.zip", "no end-of-central-directory record"});
}

TEST(Zip, BadCrcNamesTheMember) {
  TempDir dir;
  StoredArchive a = stored_archive(dir);
  a.bytes[a.first_data + 500] ^= 1;
  expect_message(error_of(dir, a.bytes), {"bad.zip", "'first.bin'", "CRC-32", "byte " + std::to_string(a.first_data)});
}

TEST(Zip, TruncatedFilesAreRejectedAtEveryLength) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  // Every proper prefix loses the end record (or, cut inside its comment-less tail, leaves a wrong one).
  for (std::size_t cut = 0; cut < a.bytes.size(); cut += 7) {
    const std::string message = error_of(dir, a.bytes.substr(0, cut));
    expect_message(message, {"bad.zip"});
  }
}

TEST(Zip, TruncatedOrLyingCentralDirectory) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  std::string b = a.bytes;
  put_u32(b, a.end_record + 12, u32_at(b, a.end_record + 12) + 100);  // size runs into the end record
  expect_message(error_of(dir, b), {"bad.zip", "central directory", "runs past the end record",
                                    "byte " + std::to_string(a.end_record)});
  b = a.bytes;
  put_u16(b, a.end_record + 8, 3);  // three entries claimed, two present
  put_u16(b, a.end_record + 10, 3);
  expect_message(error_of(dir, b), {"bad.zip", "central directory entry 2 of 3", "truncated central directory"});
  b = a.bytes;
  put_u16(b, a.second_central + 28, 2000);  // name length past the directory
  expect_message(error_of(dir, b), {"bad.zip", "central directory entry 1", "byte " + std::to_string(a.second_central)});
  b = a.bytes;
  put_u32(b, a.second_central + 42, 5);  // local header offset into first.bin's data
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "no local header signature", "byte 5"});
  b = a.bytes;
  put_u32(b, a.second_central + 42, static_cast<std::uint32_t>(a.central - 10));  // local header past the data
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "outside the member data"});
}

TEST(Zip, MemberDataPastTheMemberAreaIsTruncation) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  std::string b = a.bytes;
  put_u32(b, a.second_central + 20, 5000);  // compressed and uncompressed sizes grow past the archive's data
  put_u32(b, a.second_central + 24, 5000);
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "runs past the member area", "truncated"});
  b = a.bytes;
  put_u32(b, a.second_central + 20, 299);  // stored sizes disagree
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "stored member declares 299 compressed but 300"});
}

TEST(Zip, DeclaredSizesAboveTheCapAreRejectedBeforeReading) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  std::string b = a.bytes;
  put_u32(b, a.second_central + 24, 0x7fffffffu);  // 2 GiB declared
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "2147483647 bytes", "above the cap of 1073741824"});
  const ZipArchive zip = ZipArchive::open(dir.file("stored.zip"));
  expect_message(input_error([&] { zip.read(*zip.find("first.bin"), 999); }), {"'first.bin'", "above the cap of 999"});
  EXPECT_EQ(zip.read(*zip.find("first.bin"), 1000).size(), 1000u);
}

// 2 MiB of four-bit noise: deflates by ~2x, well inside the inflation cap.
std::vector<std::uint8_t> noise(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  std::uint32_t x = 12345;
  for (std::uint8_t& b : out) b = static_cast<std::uint8_t>((x = x * 1664525u + 1013904223u) >> 28);
  return out;
}

TEST(Zip, DeflatedMembersMustInflateToExactlyTheDeclaredSize) {
  TempDir dir;
  const std::vector<std::uint8_t> data = noise(2 << 20);
  const std::string good = to_string(testing::zip_bytes({{"noise.bin", data, true}}));
  testing::write_file(dir.file("good.zip"), good);
  const ZipArchive zip = ZipArchive::open(dir.file("good.zip"));
  EXPECT_EQ(zip.read(zip.members()[0]), data);
  const std::size_t central = u32_at(good, good.size() - 22 + 16);
  std::string b = good;
  put_u32(b, central + 24, 1000);  // declares less than the data inflates to: stops at 1001 bytes out
  expect_message(error_of(dir, b), {"bad.zip", "'noise.bin'", "inflates to more than the declared 1000 bytes"});
  b = good;
  put_u32(b, central + 24, static_cast<std::uint32_t>(data.size() + 1));  // declares more
  expect_message(error_of(dir, b), {"bad.zip", "'noise.bin'", "inflates to 2097152 bytes", "declares 2097153"});
  b = good;
  const std::size_t start = 30 + std::strlen("noise.bin");
  b[start] = static_cast<char>(0xff);  // block type 3: invalid
  expect_message(error_of(dir, b), {"bad.zip", "'noise.bin'", "is corrupt"});
  b = good;
  put_u32(b, central + 20, u32_at(good, central + 20) / 2);  // half the compressed data
  expect_message(error_of(dir, b), {"bad.zip", "'noise.bin'", "truncated"});
}

// Zip bombs: 64 MiB of zeros deflate to 64 KB (1000x); a 100-byte member declaring 1 GiB. Both are refused from
// the declarations, before a byte is inflated, in memory far below what they declare. A member that extracts to
// 1 MiB may compress any amount.
TEST(Zip, InflationAboveTheRatioCapIsRefusedBeforeInflating) {
  TempDir dir;
  const std::string bomb = to_string(testing::zip_bytes({{"zeros.bin", std::vector<std::uint8_t>(64 << 20), true}}));
  EXPECT_LT(bomb.size(), 100'000u);
  testing::write_file(dir.file("bomb.zip"), bomb);
  const testing::MeasuredRun run = testing::run_measured([&] {
    const ZipArchive zip = ZipArchive::open(dir.file("bomb.zip"));
    zip.read(zip.members()[0]);
  });
  expect_message(run.outcome, {"InputError", "'zeros.bin'", "declares 67108864 bytes from",
                               "more than the cap of 64 times for a member above 1048576 bytes"});
  EXPECT_LT(run.peak_growth, std::uint64_t{8} << 20);
  const std::string lie = to_string(testing::zip_bytes({{"lie.bin", noise(100), true, std::int64_t{1} << 30}}));
  expect_message(error_of(dir, lie), {"'lie.bin'", "declares 1073741824 bytes from", "cap of 64 times"});
  const std::string small = to_string(testing::zip_bytes({{"zeros.bin", std::vector<std::uint8_t>(1 << 20), true}}));
  testing::write_file(dir.file("small.zip"), small);
  const ZipArchive zip = ZipArchive::open(dir.file("small.zip"));
  EXPECT_GT(zip.members()[0].uncompressed_size / zip.members()[0].compressed_size, 64u);
  EXPECT_EQ(zip.read(zip.members()[0]), std::vector<std::uint8_t>(1 << 20));
}

// The most members a zip without zip64 holds, each empty: open() reads them in time and memory linear in the
// central directory, and a message naming the members stays one short line.
TEST(Zip, SixtyFiveThousandMembersOpenAndStayShortInMessages) {
  TempDir dir;
  std::vector<testing::ZipBuildMember> members;
  for (int i = 0; i < 65534; ++i) members.push_back({std::to_string(i), {}, false, -1});
  testing::write_file(dir.file("many.zip"), to_string(testing::zip_bytes(members)));
  const testing::MeasuredRun run = testing::run_measured([&] {
    const ZipArchive zip = ZipArchive::open(dir.file("many.zip"));
    if (zip.members().size() != 65534u || zip.member_list() != "'0', '1', '2', '3', '4', '5', '6', '7' and 65526 more")
      throw std::runtime_error("unexpected listing: " + zip.member_list());
  });
  EXPECT_EQ(run.outcome, "ok");
  EXPECT_LT(run.peak_growth, std::uint64_t{64} << 20);  // ~60 bytes of directory, ~150 of member, per member
}

TEST(Zip, UnsupportedFeaturesAreNamed) {
  TempDir dir;
  const StoredArchive a = stored_archive(dir);
  std::string b = a.bytes;
  put_u16(b, a.end_record + 10, 0xffff);
  put_u16(b, a.end_record + 8, 0xffff);
  expect_message(error_of(dir, b), {"bad.zip", "zip64 end-of-central-directory", "not supported"});
  b = a.bytes;
  put_u16(b, a.end_record + 4, 1);
  expect_message(error_of(dir, b), {"bad.zip", "multi-disk"});
  b = a.bytes;
  put_u16(b, a.second_central + 8, 1);
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "encrypted"});
  b = a.bytes;
  put_u16(b, a.second_central + 10, 12);
  expect_message(error_of(dir, b), {"bad.zip", "'second.bin'", "compression method 12"});
}

TEST(Zip, DuplicateNamesAreRejected) {
  TempDir dir;
  const std::vector<std::uint8_t> one = payload(10, 1);
  write_zip_stored(dir.file("two.zip"), {{"aaaa", one.data(), one.size()}, {"bbbb", one.data(), one.size()}});
  std::string b = testing::read_file(dir.file("two.zip"));
  const std::size_t end = b.size() - 22, central = u32_at(b, end + 16);
  b.replace(central + 46 + 4 + 46, 4, "aaaa");  // the second central entry's name
  expect_message(error_of(dir, b), {"bad.zip", "'aaaa'", "duplicate member name"});
}

}  // namespace
}  // namespace rosetta
