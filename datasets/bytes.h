// Little helpers shared by the binary readers and writers of datasets/ (zip, npy, pickle): little-endian loads
// and stores of unsigned integers, and quoting of untrusted text for one-line error messages.
// Invariants: loads read exactly sizeof(T) bytes from a pointer the caller has bounds-checked; quoted() output is
// printable ASCII without newlines whatever the input, and at most ~`limit` characters long.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta::bytes {

template <typename T>
T load_le(const std::uint8_t* p) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) value = static_cast<T>(value | (static_cast<T>(p[i]) << (8 * i)));
  return value;
}

template <typename T>
void store_le(std::vector<std::uint8_t>& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// 'text' in single quotes, with non-printable bytes, quotes and backslashes escaped as \xNN; longer texts are cut
// to `limit` bytes and marked with "...".
inline std::string quoted(const std::string& text, std::size_t limit = 80) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const std::size_t n = text.size() < limit ? text.size() : limit;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (n < text.size()) out += "...";
  return out + "'";
}

}  // namespace rosetta::bytes
