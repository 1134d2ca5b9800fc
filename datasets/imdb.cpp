// imdb.npz reader (raw Keras form or rosetta's preprocessed form), the seed's preprocessing and the token writer,
// as specified in imdb.h.
#include "datasets/imdb.h"

#include <algorithm>
#include <optional>

#include "datasets/bytes.h"
#include "datasets/npy.h"
#include "datasets/pickle.h"
#include "datasets/zip.h"

namespace rosetta {
namespace {

using bytes::quoted;

void check_options(const ImdbOptions& o) {
  ROSETTA_CHECK(o.max_length >= 1, "IMDB max_length must be >= 1, got " << o.max_length);
  ROSETTA_CHECK(o.vocabulary > kImdbIndexFrom && o.vocabulary <= (std::int64_t{1} << 31) - 1,
                "IMDB vocabulary must lie in (" << kImdbIndexFrom << ", 2^31), got " << o.vocabulary);
}

struct Member {
  std::string where;                // "path: member 'x_train.npy'"
  std::vector<std::uint8_t> bytes;  // the whole .npy
  NpyHeader header;
};

Member read_member(const ZipArchive& zip, const std::string& name) {
  const ZipMember* m = zip.find(name);
  if (m == nullptr) {
    ROSETTA_INPUT_ERROR(zip.path() << ": no member " << quoted(name) << " (the archive holds " << zip.member_list()
                                   << "; expected Keras' imdb.npz: x_train, y_train, x_test, y_test .npy)");
  }
  Member member;
  member.where = zip.path() + ": member " + quoted(name);
  member.bytes = zip.read(*m, kImdbMaxMemberBytes);
  member.header = parse_npy_header(member.bytes.data(), member.bytes.size(), member.where);
  return member;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

// `examples` rows of max_length tokens stay within kImdbMaxTokens.
void check_token_cap(const Member& m, std::int64_t examples, const ImdbOptions& o) {
  if (examples > kImdbMaxTokens / o.max_length) {
    ROSETTA_INPUT_ERROR(m.where << ": shape " << shape_text(m.header.shape) << " makes " << examples << " examples of "
                                << o.max_length << " tokens, above the cap of " << kImdbMaxTokens
                                << " tokens per split");
  }
}

// x_train / x_test: an object array of word-id lists (raw) or an (N, max_length) integer array (preprocessed).
Tensor read_inputs(const ZipArchive& zip, const std::string& name, const ImdbOptions& o) {
  const Member m = read_member(zip, name);
  const NpyHeader& h = m.header;
  const std::string& d = h.descr;
  if (d == "|O" || d == "|O4" || d == "|O8") {
    if (h.shape.size() != 1) {
      ROSETTA_INPUT_ERROR(m.where << ": object array of shape " << shape_text(h.shape) << ", expected (N,)");
    }
    check_token_cap(m, h.shape[0], o);
    const std::vector<std::vector<std::int64_t>> sequences = read_pickled_int_lists(
        m.bytes.data() + h.data_offset, m.bytes.size() - h.data_offset, m.where, h.data_offset);
    if (static_cast<std::int64_t>(sequences.size()) != h.shape[0]) {
      ROSETTA_INPUT_ERROR(m.where << ": the .npy header declares " << h.shape[0] << " sequences, the pickle holds "
                                  << sequences.size());
    }
    return imdb_preprocess(sequences, o, m.where);
  }
  if (!npy_int_type(d)) {
    ROSETTA_INPUT_ERROR(m.where << ": dtype " << quoted(d)
                                << ", expected an object array of word-id lists ('|O', Keras' imdb.npz) or "
                                   "preprocessed integer tokens (N, "
                                << o.max_length << ")");
  }
  if (h.shape.size() != 2 || h.shape[1] != o.max_length) {
    ROSETTA_INPUT_ERROR(m.where << ": preprocessed tokens of shape " << shape_text(h.shape) << ", expected (N, "
                                << o.max_length << ")");
  }
  check_token_cap(m, h.shape[0], o);
  const std::vector<std::int64_t> values = read_npy_ints(h, m.bytes.data(), m.bytes.size(), m.where);
  Tensor tokens = Tensor::empty({h.shape[0], h.shape[1]}, DType::i32);  // (N, max_length)
  std::int32_t* out = tokens.data<std::int32_t>();
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (values[k] < 0 || values[k] >= o.vocabulary) {
      const std::int64_t row = static_cast<std::int64_t>(k) / o.max_length, col = static_cast<std::int64_t>(k) % o.max_length;
      ROSETTA_INPUT_ERROR(m.where << ": example " << row << ", position " << col << ": token " << values[k]
                                  << " outside [0, " << o.vocabulary << ")");
    }
    out[k] = static_cast<std::int32_t>(values[k]);
  }
  return tokens;
}

// y_train / y_test: n integer labels, each 0 or 1.
Tensor read_labels(const ZipArchive& zip, const std::string& name, std::int64_t n) {
  const Member m = read_member(zip, name);
  if (!npy_int_type(m.header.descr) || m.header.shape.size() != 1 || m.header.shape[0] != n) {
    ROSETTA_INPUT_ERROR(m.where << ": labels of dtype " << quoted(m.header.descr) << " and shape "
                                << shape_text(m.header.shape) << ", expected integers of shape (" << n << ",)");
  }
  const std::vector<std::int64_t> values = read_npy_ints(m.header, m.bytes.data(), m.bytes.size(), m.where);
  Tensor labels = Tensor::empty({n}, DType::i32);  // (N,)
  std::int32_t* out = labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (values[static_cast<std::size_t>(i)] != 0 && values[static_cast<std::size_t>(i)] != 1) {
      ROSETTA_INPUT_ERROR(m.where << ": example " << i << " has label " << values[static_cast<std::size_t>(i)]
                                  << ", expected 0 or 1");
    }
    out[i] = static_cast<std::int32_t>(values[static_cast<std::size_t>(i)]);
  }
  return labels;
}

Dataset read_split(const ZipArchive& zip, const std::string& split, const ImdbOptions& o) {
  Dataset data;
  data.name = "imdb " + split;
  data.num_classes = kImdbClasses;
  data.inputs = read_inputs(zip, "x_" + split + ".npy", o);
  data.labels = read_labels(zip, "y_" + split + ".npy", data.inputs.dim(0));
  data.validate();
  return data;
}

void check_writable(const Dataset& d) {
  ROSETTA_CHECK(d.inputs.defined() && d.inputs.dtype() == DType::i32 && d.inputs.shape().rank() == 2 &&
                    d.labels.defined() && d.labels.dtype() == DType::i32 && d.labels.shape().rank() == 1 &&
                    d.labels.dim(0) == d.inputs.dim(0) && d.inputs.device() == Device::cpu &&
                    d.labels.device() == Device::cpu,
                d.name << ": IMDB token files need CPU i32 inputs (N, L) and i32 labels (N,), got "
                       << (d.inputs.defined() ? dtype_name(d.inputs.dtype()) + d.inputs.shape().str() : "none")
                       << " and " << (d.labels.defined() ? dtype_name(d.labels.dtype()) + d.labels.shape().str() : "none"));
}

}  // namespace

Tensor imdb_preprocess(const std::vector<std::vector<std::int64_t>>& sequences, const ImdbOptions& o,
                       const std::string& where) {
  check_options(o);
  const std::int64_t n = static_cast<std::int64_t>(sequences.size());
  Tensor tokens = Tensor::zeros({n, o.max_length}, DType::i32);  // (N, max_length), 0 = padding after the text
  std::int32_t* out = tokens.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::vector<std::int64_t>& words = sequences[static_cast<std::size_t>(i)];
    for (std::size_t j = 0; j < words.size(); ++j) {
      if (words[j] < 0) {
        ROSETTA_INPUT_ERROR(where << ": sequence " << i << ", position " << j << ": word id " << words[j]
                                  << " is negative");
      }
    }
    // The sequence [start] + [w + 3 ...] has words.size() + 1 values; keep its last max_length.
    const std::int64_t total = static_cast<std::int64_t>(words.size()) + 1;
    const std::int64_t kept = std::min(total, o.max_length);
    std::int32_t* row = out + i * o.max_length;
    for (std::int64_t k = 0; k < kept; ++k) {
      const std::int64_t j = total - kept + k;  // index into [start] + words
      if (j == 0) {
        row[k] = kImdbStartChar;  // < vocabulary (> 3) always
      } else {
        const std::int64_t w = words[static_cast<std::size_t>(j - 1)];
        row[k] = w >= o.vocabulary - kImdbIndexFrom ? kImdbOovChar : static_cast<std::int32_t>(w + kImdbIndexFrom);
      }
    }
  }
  return tokens;
}

DatasetSplits read_imdb(const std::string& path, const ImdbOptions& options) {
  check_options(options);
  const ZipArchive zip = ZipArchive::open(path);
  return {read_split(zip, "train", options), read_split(zip, "test", options)};
}

void write_imdb_tokens(const DatasetSplits& data, const std::string& path) {
  check_writable(data.train);
  check_writable(data.test);
  auto shape = [](const Tensor& t) {
    std::vector<std::int64_t> dims(t.shape().begin(), t.shape().end());
    return dims;
  };
  const std::vector<std::uint8_t> x_train = npy_bytes_i32(shape(data.train.inputs), data.train.inputs.data<std::int32_t>());
  const std::vector<std::uint8_t> y_train = npy_bytes_i32(shape(data.train.labels), data.train.labels.data<std::int32_t>());
  const std::vector<std::uint8_t> x_test = npy_bytes_i32(shape(data.test.inputs), data.test.inputs.data<std::int32_t>());
  const std::vector<std::uint8_t> y_test = npy_bytes_i32(shape(data.test.labels), data.test.labels.data<std::int32_t>());
  write_zip_stored(path, {{"x_train.npy", x_train.data(), x_train.size()},
                          {"y_train.npy", y_train.data(), y_train.size()},
                          {"x_test.npy", x_test.data(), x_test.size()},
                          {"y_test.npy", y_test.data(), y_test.size()}});
}

}  // namespace rosetta
