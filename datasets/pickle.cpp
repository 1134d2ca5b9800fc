// The restricted pickle stack machine of pickle.h. Values are small tagged records; containers, strings, dtypes
// and arrays live in shared Objects so memo GETs share them as Python does, without copying. Every allocation that
// outlives an opcode goes through charge() first: the memory budget of pickle.h.
#include "datasets/pickle.h"

#include <algorithm>
#include <memory>

#include "datasets/bytes.h"
#include "runtime/error.h"

namespace rosetta {
namespace {

using bytes::load_le;
using bytes::quoted;

enum class Kind : std::uint8_t { none, boolean, integer, bytes, text, tuple, list, global, dtype, ndarray };
enum class Global : std::uint8_t { reconstruct, ndarray, dtype, codecs_encode };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "a bool";
    case Kind::integer: return "an int";
    case Kind::bytes: return "bytes";
    case Kind::text: return "a str";
    case Kind::tuple: return "a tuple";
    case Kind::list: return "a list";
    case Kind::global: return "a global";
    case Kind::dtype: return "a numpy.dtype";
    case Kind::ndarray: return "a numpy.ndarray";
  }
  return "?";
}

const char* global_name(Global g) {
  switch (g) {
    case Global::reconstruct: return "numpy.core.multiarray._reconstruct";
    case Global::ndarray: return "numpy.ndarray";
    case Global::dtype: return "numpy.dtype";
    case Global::codecs_encode: return "_codecs.encode";
  }
  return "?";
}

struct Object;

struct Value {
  Kind kind = Kind::none;
  std::int64_t integer = 0;         // integer; boolean 0/1; global: its Global
  std::shared_ptr<Object> object;   // bytes, text, tuple, list, dtype, ndarray
};

struct Object {
  std::string text;                 // bytes, text; dtype: its descr
  std::vector<Value> items;         // tuple; list of non-integers
  std::vector<std::int64_t> ints;   // list of integers
  bool frozen = false;              // list: placed in a container, takes no more elements
  bool built = false;               // dtype, ndarray: BUILD applied
  int depth = 1;                    // containers: 1 + the deepest element
  std::shared_ptr<Object> elements; // ndarray: the list of its n elements (after BUILD)
};

int depth_of(const Value& v) { return v.object ? v.object->depth : 0; }

std::string opcode_name(std::uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: {
      static const char kHex[] = "0123456789abcdef";
      return std::string("opcode 0x") + kHex[op >> 4] + kHex[op & 15];
    }
  }
}

class Machine {
 public:
  Machine(const std::uint8_t* data, std::size_t size, const std::string& where, std::uint64_t base,
          const PickleLimits& limits)
      : data_(data), size_(size), where_(where), base_(base), limits_(limits),
        budget_(std::min(limits.max_bytes, limits.base_bytes + limits.bytes_per_byte * size)) {}

  std::vector<std::vector<std::int64_t>> run() {
    if (size_ == 0) fail("empty pickle");
    for (;;) {
      op_start_ = pos_;
      op_ = next_byte();
      if (op_start_ == 0 && op_ != 0x80) fail("a pickle of protocol 2 or later starts with PROTO");
      if (step()) break;
    }
    if (pos_ != size_) fail(std::to_string(size_ - pos_) + " bytes follow STOP");
    return extract();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    ROSETTA_INPUT_ERROR(where_ << ": byte " << base_ + op_start_ << ": " << opcode_name(op_) << ": " << what);
  }

  // --- reading the opcode's arguments ---
  std::uint8_t next_byte() {
    if (pos_ >= size_) fail("the pickle ends without STOP (truncated)");
    return data_[pos_++];
  }
  const std::uint8_t* take(std::uint64_t n) {
    if (n > size_ - pos_) fail("argument of " + std::to_string(n) + " bytes runs past the end of the pickle");
    const std::uint8_t* p = data_ + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  template <typename T>
  T argument() {
    return load_le<T>(take(sizeof(T)));
  }
  // A '\n'-terminated text argument (GLOBAL, PUT, GET) of at most max_string bytes.
  std::string line() {
    const std::size_t limit = static_cast<std::size_t>(std::min<std::int64_t>(limits_.max_string, static_cast<std::int64_t>(size_ - pos_)));
    const std::uint8_t* begin = data_ + pos_;
    const std::uint8_t* end = std::find(begin, begin + limit, '\n');
    if (end == begin + limit) fail("text argument without a newline within " + std::to_string(limit) + " bytes");
    pos_ += static_cast<std::size_t>(end - begin) + 1;
    return std::string(begin, end);
  }
  std::int64_t decimal_line() {
    const std::string digits = line();
    if (digits.empty() || digits.size() > 10 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      fail("expected a decimal memo index, got " + quoted(digits));
    }
    return std::stoll(digits);
  }
  std::string string_argument(std::uint64_t n) {
    if (n > static_cast<std::uint64_t>(limits_.max_string)) {
      fail("string of " + std::to_string(n) + " bytes is above the cap of " + std::to_string(limits_.max_string));
    }
    const std::uint8_t* p = take(n);
    return std::string(p, p + n);
  }
  // Two's complement little-endian integer of n bytes (LONG1, LONG4).
  std::int64_t long_argument(std::uint64_t n) {
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    const std::uint8_t* p = take(n);
    std::uint64_t raw = 0;
    for (std::uint64_t i = 0; i < n; ++i) raw |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) raw |= ~std::uint64_t{0} << (8 * n);
    return static_cast<std::int64_t>(raw);
  }

  // --- the stack ---
  std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value v) {
    if (static_cast<std::int64_t>(stack_.size()) >= limits_.max_stack) {
      fail("stack above the cap of " + std::to_string(limits_.max_stack) + " values");
    }
    stack_.push_back(std::move(v));
  }
  Value pop() {
    if (stack_.size() <= fence()) fail("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= fence()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  std::vector<Value> pop_n(std::size_t n) {
    if (stack_.size() < fence() + n) fail("stack underflow");
    std::vector<Value> items(std::make_move_iterator(stack_.end() - static_cast<std::ptrdiff_t>(n)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - n);
    return items;
  }

  // --- memory ---
  // Adds `bytes` to what the pickle has built, failing before they are allocated if that passes the budget.
  void charge(std::uint64_t bytes) {
    if (bytes > budget_ - charged_) {
      fail("the values built pass " + std::to_string(budget_) + " bytes, the memory cap for a pickle of " +
           std::to_string(size_) + " bytes (" + std::to_string(limits_.bytes_per_byte) + " per byte + " +
           std::to_string(limits_.base_bytes) + ", at most " + std::to_string(limits_.max_bytes) + ")");
    }
    charged_ += bytes;
  }
  // make_shared's one allocation: the Object, two reference counts and malloc's header.
  std::shared_ptr<Object> make_object() {
    charge(sizeof(Object) + 32);
    return std::make_shared<Object>();
  }
  // Room for `more` elements of type T in `v`, charged: at least doubling, so appends one at a time stay linear,
  // and exactly what a first batch needs, as numpy's one APPENDS per list (of up to 1000 items) asks.
  template <typename T>
  void grow(std::vector<T>& v, std::size_t more) {
    const std::size_t needed = v.size() + more;
    if (needed <= v.capacity()) return;
    const std::size_t capacity = std::max(needed, 2 * v.capacity());
    charge((capacity - v.capacity()) * sizeof(T));
    v.reserve(capacity);
  }

  // --- containers ---
  // Accounts for `child` entering a container of depth `*depth`; freezes a child list, which may enter only one.
  // An ndarray never enters a container (numpy never nests one in an object array's pickle), so an array can
  // never reach itself through its own elements.
  void adopt(const Value& child, int* depth) {
    if (child.kind == Kind::ndarray) fail("a numpy.ndarray inside a container or state is not supported");
    if (child.kind == Kind::list) {
      if (child.object->frozen) fail("a list placed in a second container (numpy writes each list once)");
      child.object->frozen = true;
    }
    *depth = std::max(*depth, 1 + depth_of(child));
    if (*depth > limits_.max_depth) fail("nesting deeper than " + std::to_string(limits_.max_depth));
  }
  Value make_tuple(std::vector<Value> items) {
    auto tuple = make_object();
    charge(items.capacity() * sizeof(Value));
    for (const Value& item : items) adopt(item, &tuple->depth);
    tuple->items = std::move(items);
    return Value{Kind::tuple, 0, std::move(tuple)};
  }
  Value make_string(Kind kind, std::string text) {
    auto object = make_object();
    charge(text.capacity());
    object->text = std::move(text);
    return Value{kind, 0, std::move(object)};
  }
  // Appends `items` to `list` (APPEND, APPENDS, LIST).
  void append(Value& list, std::vector<Value> items) {
    if (list.kind != Kind::list) fail("appending to " + std::string(kind_name(list.kind)) + ", not a list");
    Object& l = *list.object;
    if (l.frozen) fail("appending to a list already placed in a container");
    for (std::size_t j = 0; j < items.size(); ++j) {
      Value& item = items[j];
      if (item.object == list.object) fail("appending a list to itself");
      if (static_cast<std::int64_t>(l.ints.size() + l.items.size()) >= limits_.max_list_length) {
        fail("list longer than the cap of " + std::to_string(limits_.max_list_length));
      }
      if (item.kind == Kind::integer) {
        if (!l.items.empty()) fail("a list mixing ints with other values");
        grow(l.ints, items.size() - j);
        l.ints.push_back(item.integer);
      } else {
        if (!l.ints.empty()) fail("a list mixing ints with other values");
        adopt(item, &l.depth);
        grow(l.items, items.size() - j);
        l.items.push_back(std::move(item));
      }
    }
  }

  // --- memo ---
  void memo_put(std::int64_t index) {
    if (index < 0 || index >= limits_.max_memo) {
      fail("memo index " + std::to_string(index) + " is above the cap of " + std::to_string(limits_.max_memo));
    }
    const Value& value = top();
    const std::size_t i = static_cast<std::size_t>(index);
    if (i >= memo_.size()) {
      grow(memo_, i + 1 - memo_.size());
      memo_.resize(i + 1);
      memo_set_.resize(i + 1, false);
    }
    if (!memo_set_[i]) ++memo_count_;
    memo_set_[i] = true;
    memo_[i] = value;
  }
  void memo_get(std::int64_t index) {
    if (index < 0 || static_cast<std::size_t>(index) >= memo_.size() || !memo_set_[static_cast<std::size_t>(index)]) {
      fail("memo entry " + std::to_string(index) + " was never stored");
    }
    push(memo_[static_cast<std::size_t>(index)]);
  }

  // --- globals and calls ---
  Value resolve_global(const std::string& module, const std::string& name) {
    Global g;
    if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") && name == "_reconstruct") {
      g = Global::reconstruct;
    } else if (module == "numpy" && name == "ndarray") {
      g = Global::ndarray;
    } else if (module == "numpy" && name == "dtype") {
      g = Global::dtype;
    } else if (module == "_codecs" && name == "encode") {
      g = Global::codecs_encode;
    } else {
      fail("global " + quoted(module + "." + name) +
           " is not allowed (only numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype, _codecs.encode)");
    }
    return Value{Kind::global, static_cast<std::int64_t>(g), nullptr};
  }
  static bool is_string(const Value& v) { return v.kind == Kind::text || v.kind == Kind::bytes; }

  Value reduce(const Value& callable, const Value& args) {
    if (callable.kind != Kind::global) fail("calling " + std::string(kind_name(callable.kind)) + " is not allowed");
    if (args.kind != Kind::tuple) fail("arguments are " + std::string(kind_name(args.kind)) + ", not a tuple");
    const std::vector<Value>& a = args.object->items;
    const Global g = static_cast<Global>(callable.integer);
    switch (g) {
      case Global::reconstruct: {
        const bool shape_ok = a.size() == 3 && a[1].kind == Kind::tuple &&
                              std::all_of(a[1].object->items.begin(), a[1].object->items.end(),
                                          [](const Value& d) { return d.kind == Kind::integer; });
        if (!shape_ok || a[0].kind != Kind::global || static_cast<Global>(a[0].integer) != Global::ndarray ||
            !is_string(a[2]) || a[2].object->text.size() != 1) {
          fail("_reconstruct takes (numpy.ndarray, a tuple of ints, a one-byte string)");
        }
        return Value{Kind::ndarray, 0, make_object()};
      }
      case Global::dtype: {
        if (a.size() != 3 || !is_string(a[0]) || (a[1].kind != Kind::boolean && a[1].kind != Kind::integer) ||
            (a[2].kind != Kind::boolean && a[2].kind != Kind::integer)) {
          fail("numpy.dtype takes (a descr string, a bool, a bool)");
        }
        const std::string& descr = a[0].object->text;
        if (descr != "O" && descr != "O4" && descr != "O8") {
          fail("dtype " + quoted(descr) + " is not an object dtype ('O8'): only object arrays are read");
        }
        auto dtype = make_object();
        dtype->text = descr;  // at most 2 bytes: inside the Object's own string
        return Value{Kind::dtype, 0, std::move(dtype)};
      }
      case Global::codecs_encode: {
        if (a.size() != 2 || a[0].kind != Kind::text || a[1].kind != Kind::text ||
            (a[1].object->text != "latin1" && a[1].object->text != "latin-1")) {
          fail("_codecs.encode takes (a str, 'latin1')");
        }
        const std::string& text = a[0].object->text;
        if (!std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
          fail("_codecs.encode of a non-ASCII str is not supported");
        }
        return make_string(Kind::bytes, text);
      }
      case Global::ndarray: break;
    }
    fail(std::string("calling ") + global_name(g) + " is not allowed");
  }

  void build(Value& target, const Value& state) {
    if (target.kind != Kind::dtype && target.kind != Kind::ndarray) {
      fail("BUILD of " + std::string(kind_name(target.kind)) + " is not allowed");
    }
    Object& object = *target.object;
    if (object.built) fail("a second BUILD of the same object");
    if (state.kind != Kind::tuple) fail("the state is " + std::string(kind_name(state.kind)) + ", not a tuple");
    adopt(state, &object.depth);
    object.built = true;
    if (target.kind == Kind::dtype) return;
    // ndarray state: (version, shape, dtype, fortran_order, data) or, before version 1, without the version.
    const std::vector<Value>& s = state.object->items;
    const std::size_t first = s.size() == 5 ? 1 : 0;
    if (s.size() != 5 && s.size() != 4) fail("an ndarray state has 4 or 5 items, got " + std::to_string(s.size()));
    if (first == 1 && (s[0].kind != Kind::integer || s[0].integer != 1)) fail("ndarray state version is not 1");
    const Value& shape = s[first];
    const Value& dtype = s[first + 1];
    const Value& fortran = s[first + 2];
    const Value& data = s[first + 3];
    if (shape.kind != Kind::tuple || shape.object->items.size() != 1 || shape.object->items[0].kind != Kind::integer) {
      fail("only 1-D object arrays are read: the shape is not (n,)");
    }
    if (dtype.kind != Kind::dtype) fail("the array's dtype is " + std::string(kind_name(dtype.kind)));
    if (fortran.kind != Kind::boolean && fortran.kind != Kind::integer) fail("fortran_order is not a bool");
    if (data.kind != Kind::list) {
      fail("the array data is " + std::string(kind_name(data.kind)) + ", not a list (only object arrays are read)");
    }
    const std::int64_t n = shape.object->items[0].integer;
    const std::int64_t have = static_cast<std::int64_t>(data.object->items.size() + data.object->ints.size());
    if (n != have) fail("shape (" + std::to_string(n) + ",) but " + std::to_string(have) + " elements");
    object.elements = data.object;
  }

  // Executes the opcode op_; true at STOP.
  bool step() {
    switch (op_) {
      case 0x80: {  // PROTO
        const std::uint8_t protocol = next_byte();
        if (op_start_ != 0) fail("PROTO after the start of the pickle");
        if (protocol < 2 || protocol > 5) fail("protocol " + std::to_string(protocol) + " (only 2 to 5 are read)");
        return false;
      }
      case 0x95: {  // FRAME: a length prefix for buffered reading; the opcodes inside are read as usual
        const std::uint64_t n = argument<std::uint64_t>();
        if (n > size_ - pos_) fail("frame of " + std::to_string(n) + " bytes runs past the end of the pickle");
        return false;
      }
      case '.':  // STOP
        if (!marks_.empty()) fail("STOP with an open MARK");
        if (stack_.size() != 1) fail("STOP leaves " + std::to_string(stack_.size()) + " values, expected 1");
        return true;
      case '(':  // MARK
        if (static_cast<int>(marks_.size()) >= limits_.max_depth) {
          fail("more than " + std::to_string(limits_.max_depth) + " open MARKs");
        }
        marks_.push_back(stack_.size());
        return false;
      case '0':  // POP
        pop();
        return false;
      case '1':  // POP_MARK
        pop_mark();
        return false;
      case 'N': push(Value{}); return false;
      case 0x88: push(Value{Kind::boolean, 1, nullptr}); return false;  // NEWTRUE
      case 0x89: push(Value{Kind::boolean, 0, nullptr}); return false;  // NEWFALSE
      case 'J': push(Value{Kind::integer, argument<std::int32_t>(), nullptr}); return false;  // BININT
      case 'K': push(Value{Kind::integer, argument<std::uint8_t>(), nullptr}); return false;  // BININT1
      case 'M': push(Value{Kind::integer, argument<std::uint16_t>(), nullptr}); return false;  // BININT2
      case 0x8a: {  // LONG1
        const std::uint8_t n = argument<std::uint8_t>();
        push(Value{Kind::integer, long_argument(n), nullptr});
        return false;
      }
      case 0x8b: {  // LONG4
        const std::int32_t n = argument<std::int32_t>();
        if (n < 0) fail("negative length");
        push(Value{Kind::integer, long_argument(static_cast<std::uint64_t>(n)), nullptr});
        return false;
      }
      case 0x8c: push(make_string(Kind::text, string_argument(argument<std::uint8_t>()))); return false;
      case 'X': push(make_string(Kind::text, string_argument(argument<std::uint32_t>()))); return false;
      case 0x8d: push(make_string(Kind::text, string_argument(argument<std::uint64_t>()))); return false;
      case 'C': push(make_string(Kind::bytes, string_argument(argument<std::uint8_t>()))); return false;
      case 'B': push(make_string(Kind::bytes, string_argument(argument<std::uint32_t>()))); return false;
      case 0x8e: push(make_string(Kind::bytes, string_argument(argument<std::uint64_t>()))); return false;
      // Python 2 str: numpy reads these pickles with encoding='latin1', so they are text.
      case 'U': push(make_string(Kind::text, string_argument(argument<std::uint8_t>()))); return false;
      case 'T': {
        const std::int32_t n = argument<std::int32_t>();
        if (n < 0) fail("negative length");
        push(make_string(Kind::text, string_argument(static_cast<std::uint64_t>(n))));
        return false;
      }
      case ')': push(make_tuple({})); return false;
      case 't': push(make_tuple(pop_mark())); return false;
      case 0x85: push(make_tuple(pop_n(1))); return false;
      case 0x86: push(make_tuple(pop_n(2))); return false;
      case 0x87: push(make_tuple(pop_n(3))); return false;
      case ']': push(Value{Kind::list, 0, make_object()}); return false;
      case 'l': {  // LIST
        std::vector<Value> items = pop_mark();
        Value list{Kind::list, 0, make_object()};
        append(list, std::move(items));
        push(std::move(list));
        return false;
      }
      case 'a': {  // APPEND
        std::vector<Value> item;
        item.push_back(pop());
        append(top(), std::move(item));
        return false;
      }
      case 'e': {  // APPENDS
        std::vector<Value> items = pop_mark();
        append(top(), std::move(items));
        return false;
      }
      case 'p': memo_put(decimal_line()); return false;
      case 'q': memo_put(argument<std::uint8_t>()); return false;
      case 'r': memo_put(argument<std::uint32_t>()); return false;
      case 0x94: memo_put(memo_count_); return false;  // MEMOIZE: index = number of memo entries
      case 'g': memo_get(decimal_line()); return false;
      case 'h': memo_get(argument<std::uint8_t>()); return false;
      case 'j': memo_get(argument<std::uint32_t>()); return false;
      case 'c': {  // GLOBAL
        const std::string module = line();
        const std::string name = line();
        push(resolve_global(module, name));
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        const Value name = pop();
        const Value module = pop();
        if (module.kind != Kind::text || name.kind != Kind::text) fail("module and name must be str");
        push(resolve_global(module.object->text, name.object->text));
        return false;
      }
      case 'R': {  // REDUCE
        const Value args = pop();
        const Value callable = pop();
        push(reduce(callable, args));
        return false;
      }
      case 'b': {  // BUILD
        const Value state = pop();
        build(top(), state);
        return false;
      }
      default:
        fail("opcode not allowed in a numpy object array pickle");
    }
  }

  std::vector<std::vector<std::int64_t>> extract() {
    op_start_ = size_ - 1;
    const Value& result = stack_.back();
    if (result.kind != Kind::ndarray || !result.object->built) {
      fail("the pickle holds " + std::string(kind_name(result.kind)) + ", not a built numpy object array");
    }
    const Object& elements = *result.object->elements;
    if (!elements.ints.empty()) fail("element 0 is an int, not a list of ints");
    std::vector<std::vector<std::int64_t>> lists;
    charge(elements.items.size() * sizeof(lists[0]));
    lists.reserve(elements.items.size());
    for (std::size_t i = 0; i < elements.items.size(); ++i) {
      const Value& element = elements.items[i];
      if (element.kind != Kind::list || !element.object->items.empty()) {
        fail("element " + std::to_string(i) + " is " +
             (element.kind == Kind::list ? std::string("a list of non-ints") : kind_name(element.kind)) +
             ", not a list of ints");
      }
      lists.push_back(std::move(element.object->ints));  // each list is placed once: nothing else reads it
    }
    return lists;
  }

  const std::uint8_t* data_;
  std::size_t size_;
  const std::string& where_;
  std::uint64_t base_;
  const PickleLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t op_start_ = 0;
  std::uint8_t op_ = 0;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;  // stack sizes at each open MARK
  std::vector<Value> memo_;
  std::vector<bool> memo_set_;
  std::int64_t memo_count_ = 0;
  std::uint64_t budget_;       // the memory cap for this pickle
  std::uint64_t charged_ = 0;  // bytes built so far
};

}  // namespace

std::vector<std::vector<std::int64_t>> read_pickled_int_lists(const std::uint8_t* data, std::size_t size,
                                                              const std::string& where, std::uint64_t base_offset,
                                                              const PickleLimits& limits) {
  return Machine(data, size, where, base_offset, limits).run();
}

}  // namespace rosetta
