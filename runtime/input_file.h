// InputFile: a file rosetta reads (weights, data sets, token files), opened with the checks every reader needs and
// one-line InputErrors that name it:
//   "<path>: no such file"   "<path>: is a directory, not <kind>"   "<path>: is not a regular file"
//   "<path>: cannot open: <reason>"
// its size, and reads of exact byte ranges that fail with the range. The size is read once at open; a read past a
// file that shrank since then fails like any short read.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace rosetta {

class InputFile {
 public:
  // kind: what the file should be, for the message about a directory ("a safetensors file").
  InputFile(const std::string& path, const std::string& kind);

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  // Bytes [offset, offset + bytes) into `out`, or an InputError "<path>: cannot read <what>: <bytes> bytes at byte
  // <offset> (...)".
  void read_at(std::uint64_t offset, void* out, std::size_t bytes, const std::string& what) const;

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Closer> file_;
  std::uint64_t size_ = 0;
};

}  // namespace rosetta
