// .npy header parser, integer decoding and int32 writer, as specified in npy.h.
#include "datasets/npy.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "datasets/bytes.h"
#include "runtime/error.h"

namespace rosetta {
namespace {

using bytes::load_le;
using bytes::quoted;

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;

// Recursive-descent parser over the header text; positions are reported as offsets into the .npy data.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, std::size_t base, const std::string& where)
      : text_(text), base_(base), where_(where) {}

  void parse(NpyHeader* header) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_spaces();
    expect('{');
    skip_spaces();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      const std::string key = string_literal();
      skip_spaces();
      expect(':');
      skip_spaces();
      if (key == "descr") {
        if (have_descr) fail(key_at, "key 'descr' appears twice");
        if (peek() == '[') fail(pos_, "structured dtypes (a list as 'descr') are not supported");
        header->descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) fail(key_at, "key 'fortran_order' appears twice");
        header->fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) fail(key_at, "key 'shape' appears twice");
        header->shape = int_tuple();
        have_shape = true;
      } else {
        fail(key_at, "unexpected key " + quoted(key) + " (expected 'descr', 'fortran_order', 'shape')");
      }
      skip_spaces();
      if (peek() == ',') {
        ++pos_;
        skip_spaces();
      } else if (peek() != '}') {
        fail(pos_, "expected ',' or '}'");
      }
    }
    ++pos_;
    if (!have_descr || !have_order || !have_shape) {
      fail(pos_ - 1, std::string("the header lacks ") +
                         (!have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'"));
    }
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
    if (pos_ != text_.size()) fail(pos_, "unexpected text after the header dict");
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    ROSETTA_INPUT_ERROR(where_ << ": byte " << base_ + at << ": .npy header: " << what);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) fail(pos_, std::string("expected '") + c + "'");
    ++pos_;
  }
  void skip_spaces() {
    while (peek() == ' ') ++pos_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(pos_, "expected a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail(pos_, "escapes in strings are not supported");
      ++pos_;
    }
    if (pos_ == text_.size()) fail(start - 1, "unterminated string");
    return text_.substr(start, pos_++ - start);
  }
  bool boolean() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail(pos_, "expected True or False");
  }
  std::int64_t integer() {
    const std::size_t start = pos_;
    std::int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail(start, "dimension too large");
      value = value * 10 + (text_[pos_++] - '0');
    }
    if (pos_ == start) fail(start, "expected a non-negative integer");
    if (peek() == 'L') ++pos_;  // Python 2 long
    return value;
  }
  std::vector<std::int64_t> int_tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    skip_spaces();
    bool comma_after_last = false;
    while (peek() != ')') {
      if (static_cast<int>(dims.size()) == kNpyMaxRank) fail(pos_, "more than " + std::to_string(kNpyMaxRank) + " dimensions");
      dims.push_back(integer());
      skip_spaces();
      comma_after_last = peek() == ',';
      if (comma_after_last) {
        ++pos_;
        skip_spaces();
      } else if (peek() != ')') {
        fail(pos_, "expected ',' or ')' in the shape");
      }
    }
    if (dims.size() == 1 && !comma_after_last) fail(pos_, "a one-element shape needs its comma: (n,)");
    ++pos_;
    return dims;
  }

  const std::string& text_;
  std::size_t base_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

}  // namespace

std::int64_t NpyHeader::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::optional<NpyIntType> npy_int_type(const std::string& descr) {
  if (descr.size() != 3) return std::nullopt;
  const char order = descr[0], kind = descr[1], width = descr[2];
  if (kind != 'i' && kind != 'u') return std::nullopt;
  NpyIntType t;
  t.is_signed = kind == 'i';
  if (width == '1' || width == '2' || width == '4' || width == '8') t.size = static_cast<std::size_t>(width - '0');
  else return std::nullopt;
  if (order == '|') {
    if (t.size != 1) return std::nullopt;
  } else if (order == '>') {
    t.big_endian = true;
  } else if (order != '<') {
    return std::nullopt;
  }
  return t;
}

NpyHeader parse_npy_header(const std::uint8_t* data, std::size_t size, const std::string& where) {
  if (size < kMagicBytes + 2 || std::memcmp(data, kMagic, kMagicBytes) != 0) {
    ROSETTA_INPUT_ERROR(where << ": byte 0: not a .npy array (no \\x93NUMPY magic)");
  }
  NpyHeader header;
  header.major_version = data[6];
  header.minor_version = data[7];
  std::size_t length_bytes = 0;
  if (header.major_version == 1 && header.minor_version == 0) length_bytes = 2;
  else if ((header.major_version == 2 || header.major_version == 3) && header.minor_version == 0) length_bytes = 4;
  else {
    ROSETTA_INPUT_ERROR(where << ": byte 6: .npy version " << header.major_version << "." << header.minor_version
                              << " is not supported (1.0, 2.0 and 3.0 are)");
  }
  const std::size_t prefix = kMagicBytes + 2 + length_bytes;
  if (size < prefix) ROSETTA_INPUT_ERROR(where << ": byte 8: .npy header length is truncated");
  const std::uint64_t header_bytes =
      length_bytes == 2 ? load_le<std::uint16_t>(data + 8) : load_le<std::uint32_t>(data + 8);
  if (header_bytes > kNpyMaxHeaderBytes) {
    ROSETTA_INPUT_ERROR(where << ": byte 8: .npy header of " << header_bytes << " bytes is above the cap of "
                              << kNpyMaxHeaderBytes);
  }
  if (prefix + header_bytes > size) {
    ROSETTA_INPUT_ERROR(where << ": byte " << prefix << ": .npy header of " << header_bytes
                              << " bytes runs past the end of the data (" << size << " bytes)");
  }
  const std::string text(reinterpret_cast<const char*>(data + prefix), static_cast<std::size_t>(header_bytes));
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n') || c >= 0x7f) {
      ROSETTA_INPUT_ERROR(where << ": byte " << prefix + i << ": .npy header holds a non-ASCII or control byte");
    }
  }
  HeaderParser(text, prefix, where).parse(&header);
  std::int64_t n = 1;
  for (std::int64_t d : header.shape) {
    if (d != 0 && n > kNpyMaxElements / d) {
      ROSETTA_INPUT_ERROR(where << ": byte " << prefix << ": .npy shape has more than " << kNpyMaxElements
                                << " elements");
    }
    n *= d;
  }
  header.data_offset = prefix + static_cast<std::size_t>(header_bytes);
  return header;
}

std::vector<std::int64_t> read_npy_ints(const NpyHeader& header, const std::uint8_t* data, std::size_t size,
                                        const std::string& where) {
  const std::optional<NpyIntType> type = npy_int_type(header.descr);
  if (!type) ROSETTA_INPUT_ERROR(where << ": dtype " << quoted(header.descr) << " is not an integer dtype");
  if (header.fortran_order && header.shape.size() > 1) {
    ROSETTA_INPUT_ERROR(where << ": Fortran-order arrays of rank > 1 are not supported");
  }
  const std::int64_t n = header.numel();
  const std::uint64_t expected = static_cast<std::uint64_t>(n) * type->size;
  const std::uint64_t actual = size - header.data_offset;
  if (actual != expected) {
    ROSETTA_INPUT_ERROR(where << ": byte " << header.data_offset << ": " << actual << " bytes of array data, expected "
                              << expected << " (" << n << " elements of " << quoted(header.descr) << ")");
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  const std::uint8_t* p = data + header.data_offset;
  for (std::int64_t i = 0; i < n; ++i, p += type->size) {
    std::uint64_t raw = 0;
    for (std::size_t b = 0; b < type->size; ++b) {
      const std::size_t shift = 8 * (type->big_endian ? type->size - 1 - b : b);
      raw |= static_cast<std::uint64_t>(p[b]) << shift;
    }
    if (type->is_signed && type->size < 8 && (raw >> (8 * type->size - 1)) != 0) {
      raw |= ~std::uint64_t{0} << (8 * type->size);  // sign-extend
    }
    if (!type->is_signed && type->size == 8 && raw > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      ROSETTA_INPUT_ERROR(where << ": byte " << header.data_offset + i * type->size << ": element " << i
                                << " is above the int64 range");
    }
    values[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(raw);
  }
  return values;
}

std::vector<std::uint8_t> npy_bytes_i32(const std::vector<std::int64_t>& shape, const std::int32_t* values) {
  std::ostringstream dict;
  dict << "{'descr': '<i4', 'fortran_order': False, 'shape': (";
  std::int64_t n = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    ROSETTA_CHECK(shape[i] >= 0, "npy shape dimension " << i << " is " << shape[i]);
    dict << (i ? ", " : "") << shape[i];
    n *= shape[i];
  }
  dict << (shape.size() == 1 ? ",), }" : "), }");
  std::string text = dict.str();
  const std::size_t prefix = kMagicBytes + 2 + 2;
  const std::size_t padded = (prefix + text.size() + 1 + 63) / 64 * 64;  // + 1 for the '\n'
  text.append(padded - prefix - text.size() - 1, ' ');
  text += '\n';
  ROSETTA_CHECK(text.size() <= 0xffffu, "npy header of " << text.size() << " bytes needs version 2.0");
  std::vector<std::uint8_t> out(kMagic, kMagic + kMagicBytes);
  out.push_back(1);
  out.push_back(0);
  bytes::store_le<std::uint16_t>(out, static_cast<std::uint16_t>(text.size()));
  out.insert(out.end(), text.begin(), text.end());
  out.reserve(out.size() + static_cast<std::size_t>(n) * 4);
  for (std::int64_t i = 0; i < n; ++i) bytes::store_le<std::uint32_t>(out, static_cast<std::uint32_t>(values[i]));
  return out;
}

}  // namespace rosetta
