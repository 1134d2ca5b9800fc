// A restricted pickle reader for the payload of a numpy object array (.npy with descr '|O'), whose elements are
// Python lists of ints: what Keras' imdb.npz holds in x_train and x_test. It is a data parser, a small stack
// machine over the opcodes below; nothing is ever called or imported, and anything else is rejected.
//
// What numpy writes (np.save -> pickle.dump(array, protocol=3 today, 2 before numpy 1.17; 4 or 5 from other
// writers): PROTO; GLOBAL or STACK_GLOBAL 'numpy.core.multiarray _reconstruct' ('numpy._core.multiarray' from
// numpy 2) and 'numpy ndarray'; REDUCE _reconstruct(ndarray, (0,), b'b'); then BUILD with the state tuple
// (1, (n,), dtype, False, [list_0, ..., list_n-1]), where dtype is REDUCE numpy.dtype('O8', False, True) followed
// by BUILD (3, '|', None, None, None, -1, -1, 63); each list is EMPTY_LIST, MARK, ints, APPENDS (or APPEND);
// memo PUTs everywhere; FRAME in protocol 4+. Python 3 pickling bytes at protocol 2 writes b'b' as
// REDUCE _codecs.encode('b', 'latin1'); Python 2 writes str as SHORT_BINSTRING.
//
// Accepted opcodes: PROTO (2-5, first), FRAME, STOP; MARK, POP, POP_MARK; NONE, NEWTRUE, NEWFALSE; BININT,
// BININT1, BININT2, LONG1, LONG4 (up to 64-bit); SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINBYTES,
// BINBYTES, BINBYTES8, SHORT_BINSTRING, BINSTRING; EMPTY_TUPLE, TUPLE, TUPLE1-3; EMPTY_LIST, LIST, APPEND,
// APPENDS; PUT, BINPUT, LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET; GLOBAL, STACK_GLOBAL, REDUCE, BUILD.
// Accepted globals: numpy.core.multiarray._reconstruct, numpy._core.multiarray._reconstruct, numpy.ndarray,
// numpy.dtype, _codecs.encode. REDUCE only as: _reconstruct(numpy.ndarray, tuple of ints, one-byte string);
// numpy.dtype(object descr 'O', 'O4' or 'O8', bool, bool); _codecs.encode(ASCII str, 'latin1'). BUILD only on
// such a dtype (state: a tuple) or ndarray (state: (1, (n,), dtype, fortran, list) or the 4-tuple without the
// version). STOP must leave exactly one built 1-D ndarray whose n elements are lists of ints. Every other opcode
// (INST, OBJ, NEWOBJ, PERSID, EXT*, dicts, sets, floats, buffers...), global or call is rejected.
//
// Bounds: no recursion; lists and tuples are frozen once placed in another container or in an array state (an
// APPEND to a frozen list is rejected), so no cycle can form, and a list may be placed only once, so no list is
// shared (numpy writes each element's list once; sharing is how a few memo GETs would ask for a huge array). Caps
// on nesting depth, open MARKs, stack size, list length, memo index and string length, each checked before the
// value is made; and one memory budget: every object, container slot, int and memo slot the pickle builds is
// charged at its size (vectors at their capacity) before it is made, and the total may not pass
// min(max_bytes, base_bytes + bytes_per_byte x the pickle's size). So memory is at most a small multiple of the
// pickle's size (plus the stack's cap) and time is linear in it: each opcode does O(1) work apart from moving the
// values of a MARK into one container, which moves each value once; the lists are moved out, not copied. Lists
// store ints compactly (8 bytes each); a list mixing ints with other values is rejected. Every failure is one
// InputError line: "<where>: byte <offset>: <OPCODE>: <what>", the offset being `base_offset` plus the opcode's
// position in the pickle.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rosetta {

struct PickleLimits {
  int max_depth = 16;                                  // nesting of containers and open MARKs (numpy's: 4)
  std::int64_t max_stack = std::int64_t{1} << 20;      // values on the stack (numpy's pickles: a few dozen)
  std::int64_t max_list_length = std::int64_t{1} << 24;  // 16 M: the longest IMDB review has 2,494 words
  std::int64_t max_memo = std::int64_t{1} << 20;       // memo indices are below this (numpy's: one per list)
  std::int64_t max_string = 1024;                      // bytes of one string (names, 'b', 'latin1', descr)
  // The memory budget (see above). A pickle of x_train's size (25,000 lists, 5.8 M word ids: 14.6 MB) builds
  // 54 MB: 3.7 bytes per byte, as ints of 2-5 bytes become 8-byte values; 16 per byte is 4x that, and 256 MiB 5x
  // the whole. A pickle of mostly empty lists (~170 bytes each from 1-6 bytes) passes only under base_bytes, which
  // lets small pickles pass whatever their ratio.
  std::uint64_t max_bytes = std::uint64_t{256} << 20;
  std::uint64_t bytes_per_byte = 16;
  std::uint64_t base_bytes = std::uint64_t{1} << 20;
};

// The elements of the pickled 1-D object array in data[0, size), each a list of ints, in order.
std::vector<std::vector<std::int64_t>> read_pickled_int_lists(const std::uint8_t* data, std::size_t size,
                                                              const std::string& where, std::uint64_t base_offset,
                                                              const PickleLimits& limits = PickleLimits());

}  // namespace rosetta
