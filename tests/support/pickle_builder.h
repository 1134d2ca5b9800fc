// Hand-assembled pickles for the tests of the restricted pickle reader and of the readers above it (imdb.npz):
// opcodes by their pickletools names, an assembler that encodes ints and memo PUTs as Python's pickler does, and
// the prologue and epilogue of a numpy object array, and .npy files around them, so a test (or the fuzz seed generator) writes exactly the
// structure it means, hostile or not. Header-only, no GoogleTest: the fuzz build uses it too.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta::testing {

using IntLists = std::vector<std::vector<std::int64_t>>;

// Opcodes, by their pickletools names.
namespace pickle_ops {
enum Op : std::uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N',
  PERSID = 'P', REDUCE = 'R', SHORT_BINSTRING = 'U', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c',
  EMPTY_DICT = '}', APPENDS = 'e', BINGET = 'h', INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']',
  OBJ = 'o', BINPUT = 'q', LONG_BINPUT = 'r', TUPLE = 't', EMPTY_TUPLE = ')', BINFLOAT = 'G', SHORT_BINBYTES = 'C',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a,
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95
};
}  // namespace pickle_ops
using namespace pickle_ops;

// Assembles pickles opcode by opcode.
class Pickle {
 public:
  Pickle& op(std::uint8_t code) {
    bytes_.push_back(code);
    return *this;
  }
  Pickle& u8(std::uint8_t v) { return op(v); }
  Pickle& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  Pickle& text(const std::string& s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& proto(int p = 2) { return op(PROTO).u8(static_cast<std::uint8_t>(p)); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op(GLOBAL).text(module + "\n" + name + "\n");
  }
  Pickle& py2_str(const std::string& s) { return op(SHORT_BINSTRING).u8(static_cast<std::uint8_t>(s.size())).text(s); }
  Pickle& unicode(const std::string& s) { return op(SHORT_BINUNICODE).u8(static_cast<std::uint8_t>(s.size())).text(s); }
  // As Python's pickler encodes an int.
  Pickle& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op(BININT1).u8(static_cast<std::uint8_t>(v));
    if (v >= 0 && v < 65536) return op(BININT2).le(static_cast<std::uint64_t>(v), 2);
    if (v >= INT32_MIN && v <= INT32_MAX) return op(BININT).le(static_cast<std::uint64_t>(v), 4);
    int n = 8;
    while (n > 1) {  // the fewest two's complement bytes that keep the sign
      const std::int64_t shifted = v >> (8 * (n - 1) - 1);
      if (shifted != 0 && shifted != -1) break;
      --n;
    }
    return op(LONG1).u8(static_cast<std::uint8_t>(n)).le(static_cast<std::uint64_t>(v), n);
  }
  // BINPUT or LONG_BINPUT at the next memo index, as Python's pickler numbers them.
  Pickle& put() {
    const std::uint32_t index = memo_++;
    return index < 256 ? op(BINPUT).u8(static_cast<std::uint8_t>(index)) : op(LONG_BINPUT).le(index, 4);
  }
  std::vector<std::uint8_t> bytes() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;
  std::uint32_t memo_ = 0;
};

// The start of a Python 2 / numpy pickle of a 1-D object array of n elements, up to (and including) the MARK
// before the elements' list items; memo index 5 is the array. descr: the dtype's descr.
inline Pickle& array_prologue(Pickle& p, std::int64_t n, const std::string& descr = "O8") {
  p.proto(2).global("numpy.core.multiarray", "_reconstruct").put().global("numpy", "ndarray").put();
  p.integer(0).op(TUPLE1).put().py2_str("b").put().op(TUPLE3).put().op(REDUCE).put();
  p.op(MARK).integer(1).integer(n).op(TUPLE1).put();
  p.global("numpy", "dtype").put().py2_str(descr).put().op(NEWFALSE).op(NEWTRUE).op(TUPLE3).put();
  p.op(REDUCE).put().op(MARK).integer(3).py2_str("|").put().op(NONE).op(NONE).op(NONE);
  p.integer(-1).integer(-1).integer(63).op(TUPLE).put().op(BUILD).op(NEWFALSE);
  p.op(EMPTY_LIST).put().op(MARK);
  return p;
}
inline Pickle& array_epilogue(Pickle& p) { return p.op(APPENDS).op(TUPLE).put().op(BUILD).op(STOP); }

// A Python 2 style pickle (SHORT_BINSTRING strings, GLOBAL, BINPUT/LONG_BINPUT) of `lists`.
inline std::vector<std::uint8_t> py2_pickle(const IntLists& lists) {
  Pickle p;
  array_prologue(p, static_cast<std::int64_t>(lists.size()));
  for (const std::vector<std::int64_t>& list : lists) {
    p.op(EMPTY_LIST).put();
    if (list.size() == 1) {
      p.integer(list[0]).op(APPEND);
    } else if (!list.empty()) {
      p.op(MARK);
      for (std::int64_t v : list) p.integer(v);
      p.op(APPENDS);
    }
  }
  return array_epilogue(p).bytes();
}

// A complete version-1.0 .npy: the header `dict` (padded to a multiple of 64 bytes, as numpy writes it), then
// `payload`.
inline std::vector<std::uint8_t> npy_file(std::string dict, const std::vector<std::uint8_t>& payload) {
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string file("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(dict.size() & 0xff);
  file += static_cast<char>(dict.size() >> 8);
  file += dict;
  file.append(payload.begin(), payload.end());
  return std::vector<std::uint8_t>(file.begin(), file.end());
}

// The .npy of a 1-D object array of `n` elements ('|O', as np.save writes it) whose payload is `pickle`.
inline std::vector<std::uint8_t> object_npy(std::int64_t n, const std::vector<std::uint8_t>& pickle) {
  return npy_file("{'descr': '|O', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }", pickle);
}

}  // namespace rosetta::testing
