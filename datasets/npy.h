// numpy's .npy format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the header reader, integer data decoding
// and a writer of int32 arrays.
//
// Layout: the magic "\x93NUMPY", major and minor version bytes, the header length (u16 little-endian for 1.0,
// u32 for 2.0 and 3.0), then the header: the repr of a Python dict {'descr': str, 'fortran_order': bool,
// 'shape': tuple of ints} padded with spaces and ended by '\n'; the array data follows.
// The header is parsed by a small strict parser, never evaluated: exactly those three keys, each once, in any
// order; single- or double-quoted strings without escapes; True/False; tuples of non-negative decimal ints (a
// one-element tuple needs its comma; the 'L' suffix of Python 2 longs is accepted); an optional trailing comma;
// after the '}' only spaces and newlines. Structured dtypes (a list as descr) are rejected. Every violation is one
// InputError line: "<where>: byte <offset>: <what>", the offset counted from the start of the .npy data.
// Bounds: the header is at most kNpyMaxHeaderBytes, parsed in one linear pass; read_npy_ints checks that the data
// is exactly numel x item size before it allocates, so its values take at most 8 bytes per byte of data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rosetta {

constexpr std::size_t kNpyMaxHeaderBytes = 65536;  // numpy itself refuses headers over 10000 bytes by default
constexpr int kNpyMaxRank = 8;
constexpr std::int64_t kNpyMaxElements = std::int64_t{1} << 40;

struct NpyHeader {
  int major_version = 1;
  int minor_version = 0;
  std::string descr;                // '<i8', '|O', ...
  bool fortran_order = false;
  std::vector<std::int64_t> shape;  // () for a scalar
  std::size_t data_offset = 0;      // bytes from the start of the .npy to the array data
  std::int64_t numel() const;
};

// A plain integer dtype: '<i4', '|u1', '>i8', ... (1, 2, 4 or 8 bytes; '|' only for 1 byte).
struct NpyIntType {
  std::size_t size = 0;
  bool is_signed = true;
  bool big_endian = false;
};
// The integer type `descr` names, or nothing when it is not a plain integer dtype.
std::optional<NpyIntType> npy_int_type(const std::string& descr);

// Parses the header at the start of `data` (`size` bytes, the whole .npy); `where` names the file and member in
// messages. Checks the magic, version, header syntax and keys, the rank and the element count caps.
NpyHeader parse_npy_header(const std::uint8_t* data, std::size_t size, const std::string& where);

// The elements of an integer array (header.descr an integer dtype, C order or rank <= 1), widened to int64. The
// data must be exactly numel * item size bytes after the header. Unsigned 8-byte values above INT64_MAX are
// rejected.
std::vector<std::int64_t> read_npy_ints(const NpyHeader& header, const std::uint8_t* data, std::size_t size,
                                        const std::string& where);

// A complete version-1.0 .npy file holding `values` as a C-order '<i4' array of `shape` (header padded so the
// data starts at a multiple of 64 bytes, as numpy writes it).
std::vector<std::uint8_t> npy_bytes_i32(const std::vector<std::int64_t>& shape, const std::int32_t* values);

}  // namespace rosetta
