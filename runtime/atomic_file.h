// AtomicFile: how rosetta writes every output file (checkpoints, data sets for the peers, result records, step
// logs, the algorithm cache). The bytes go to a fresh file beside the target (an O_EXCL name, so concurrent
// writers never share one); commit() flushes it to disk and renames it onto the target. Until then the
// destructor removes it: a failed or interrupted write leaves neither a partial target nor a temporary, and an
// existing good file is only ever replaced whole; a second SIGINT/SIGTERM removes the temporary before exiting
// (runtime/interrupt.h). Files are created with mode 0644. Failures (a full disk, a file-size limit) are
// InputErrors naming the target, and leave the old file intact and no temporary.
#pragma once
#include <cstddef>
#include <string>

namespace rosetta {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes);
  // Flushes to disk, closes, and renames onto the target.
  void commit();

 private:
  std::string target_;
  std::string path_;
  int fd_ = -1;
  int slot_ = -1;  // in the registry a second signal cleans up (runtime/interrupt.h)
  bool committed_ = false;
};

// The whole of `bytes` written to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace rosetta
