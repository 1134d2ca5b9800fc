// Hand-built safetensors bytes: a helper to assemble a file from header text and data, and one malformed file
// per check of the reader, each with the phrases its InputError must contain. Shared by the reader's tests
// (tests/test_safetensors.cpp) and the CLI's (tests/test_cli_inspect.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta::testing {

// 8 bytes, little-endian.
inline std::string le64(std::uint64_t n) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i, n >>= 8) bytes[i] = static_cast<char>(n & 0xFF);
  return bytes;
}

// A whole file: the header length, the header text (not padded) and the data section.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

struct MalformedCase {
  std::string name;                    // a test-name-safe identifier
  std::string bytes;                   // the whole file
  std::vector<std::string> fragments;  // phrases the one-line message must contain, besides the file's path
};

inline std::vector<MalformedCase> malformed_cases() {
  // One F32 tensor 'a' of shape (2,): 8 bytes.
  const auto one = [](const std::string& fields) { return R"({"a": {)" + fields + "}}"; };
  const std::string a_ok = R"("dtype": "F32", "shape": [2], "data_offsets": [0, 8])";
  const std::string eight(8, '\x01');
  return {
      {"FileShorterThanLength", std::string("\x10\x00\x00", 3), {"3 bytes", "shorter than the 8-byte header length"}},
      {"HugeHeaderLength", le64(100'000'001) + "{}", {"header length 100000001", "exceeds the limit"}},
      {"HeaderPastEndOfFile", le64(1000) + "{}      ", {"header length 1000", "past the end of the file"}},
      {"HeaderNotUtf8", safetensors_bytes("{\"a\xff\": 1}", ""), {"header", "not valid UTF-8"}},
      {"HeaderNotJson", safetensors_bytes(R"({"a": )", ""), {"header", "not valid JSON"}},
      {"HeaderNotObject", safetensors_bytes("[1, 2]", ""), {"header", "not an object"}},
      {"HeaderNestedTooDeep", safetensors_bytes(R"({"a": )" + std::string(100, '[') + std::string(100, ']') + "}", ""),
       {"header", "nests more than"}},
      {"EntryNotObject", safetensors_bytes(R"({"a": 3})", ""), {"tensor 'a'", "expected an object"}},
      {"MissingDType", safetensors_bytes(one(R"("shape": [2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "field 'dtype' is missing"}},
      {"MissingShape", safetensors_bytes(one(R"("dtype": "F32", "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "field 'shape' is missing"}},
      {"MissingDataOffsets", safetensors_bytes(one(R"("dtype": "F32", "shape": [2])"), eight),
       {"tensor 'a'", "field 'data_offsets' is missing"}},
      {"DTypeNotString", safetensors_bytes(one(R"("dtype": 4, "shape": [2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "dtype is 4"}},
      {"UnknownDType", safetensors_bytes(one(R"("dtype": "F33", "shape": [2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "dtype 'F33'"}},
      {"ShapeNotArray", safetensors_bytes(one(R"("dtype": "F32", "shape": "2", "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "shape is \"2\""}},
      {"NegativeDimension", safetensors_bytes(one(R"("dtype": "F32", "shape": [-2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "shape[0] is -2"}},
      {"FractionalDimension", safetensors_bytes(one(R"("dtype": "F32", "shape": [2.0], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "shape[0]"}},
      {"TooManyDimensions",
       safetensors_bytes(one(R"("dtype": "F32", "shape": [1, 1, 1, 1, 1, 2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "6 dimensions", "at most 5"}},
      {"ElementCountOverflow",
       safetensors_bytes(one(R"("dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "shape (4294967296, 4294967296, 4)", "more elements than fit"}},
      {"ByteCountOverflow",
       safetensors_bytes(one(R"("dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "F32", "more bytes than fit"}},
      {"OffsetsNotPair", safetensors_bytes(one(R"("dtype": "F32", "shape": [2], "data_offsets": [0])"), eight),
       {"tensor 'a'", "data_offsets is [0]"}},
      {"NegativeOffset", safetensors_bytes(one(R"("dtype": "F32", "shape": [2], "data_offsets": [-8, 0])"), eight),
       {"tensor 'a'", "data_offsets is [-8,0]"}},
      {"EndBeforeBegin", safetensors_bytes(one(R"("dtype": "F32", "shape": [2], "data_offsets": [8, 0])"), eight),
       {"tensor 'a'", "data_offsets [8, 0]", "end before they begin"}},
      {"FirstTensorNotAtZero",
       safetensors_bytes(one(R"("dtype": "F32", "shape": [2], "data_offsets": [4, 12])"), eight + "1234"),
       {"tensor 'a'", "data_offsets [4, 12]", "hole", "begin at 0"}},
      {"HoleBetweenTensors",
       safetensors_bytes(R"({"a": {)" + a_ok + R"(}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                         eight + "1234" + eight),
       {"tensor 'b'", "data_offsets [12, 20]", "hole of 4 bytes", "after tensor 'a'"}},
      {"OverlappingTensors",
       safetensors_bytes(R"({"a": {)" + a_ok + R"(}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                         eight + "1234"),
       {"tensor 'b'", "data_offsets [4, 12]", "overlap tensor 'a' [0, 8]"}},
      {"WrongByteCount", safetensors_bytes(one(R"("dtype": "F32", "shape": [2], "data_offsets": [0, 4])"), "1234"),
       {"tensor 'a'", "data_offsets [0, 4] hold 4 bytes", "shape (2,) of F32 needs 8"}},
      {"TrailingBytes", safetensors_bytes(one(a_ok), eight + "xy"), {"data section holds 10 bytes", "2 trailing bytes"}},
      {"TruncatedData", safetensors_bytes(one(a_ok), "123456"), {"data section holds 6 bytes", "truncated by 2 bytes"}},
      {"DuplicateTensorName", safetensors_bytes(R"({"a": {)" + a_ok + R"(}, "a": {)" + a_ok + "}}", eight),
       {"tensor 'a'", "appears twice"}},
      {"DuplicateField",
       safetensors_bytes(one(R"("dtype": "F32", "dtype": "U8", "shape": [2], "data_offsets": [0, 8])"), eight),
       {"tensor 'a'", "field 'dtype' appears twice"}},
      {"MetadataNotObject", safetensors_bytes(R"({"__metadata__": [1]})", ""), {"__metadata__", "expected an object"}},
      {"MetadataValueNotString", safetensors_bytes(R"({"__metadata__": {"epoch": 3}})", ""),
       {"__metadata__", "'epoch'", "expected a string"}},
  };
}

}  // namespace rosetta::testing
