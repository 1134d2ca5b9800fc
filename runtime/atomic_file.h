// AtomicFile: how rosetta writes every output file (checkpoints, data sets for the peers, result records, step
// logs, the algorithm cache). The bytes go to a fresh file beside the target (an O_EXCL name, so concurrent
// writers never share one); commit() flushes it to disk and renames it onto the target. Until then the
// destructor removes it: a failed or interrupted write leaves neither a partial target nor a temporary, and an
// existing good file is only ever replaced whole; a second SIGINT/SIGTERM removes the temporary before exiting
// (runtime/interrupt.h). Files are created with mode 0644. Failures (a full disk, a file-size limit) are
// InputErrors naming the target, and leave the old file intact and no temporary.
// AtomicFolder does the same for a set of files that must appear together (the CIFAR-10 export): they are written
// into a fresh folder beside the target, and commit() swaps it with the target in one rename, so a reader sees the
// old set or the new one, never a mix.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

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

// A folder of named files that replaces `target` whole. The files are written, each through an AtomicFile, to
// file(name) inside a fresh staging folder beside the target (".<target>.tmp-<tag>"); commit() checks every name
// was written, flushes, and swaps the staging folder with the target (renameat2's RENAME_EXCHANGE; a plain rename
// when there is no target yet), then removes the old set. Until then the destructor removes the staging folder,
// and a second SIGINT/SIGTERM removes it and its files. An existing target may hold only `names` (an earlier
// output of the same kind): anything else in it is refused, so a folder of the user's is never replaced.
class AtomicFolder {
 public:
  AtomicFolder(const std::string& target, std::vector<std::string> names);
  ~AtomicFolder();
  AtomicFolder(const AtomicFolder&) = delete;
  AtomicFolder& operator=(const AtomicFolder&) = delete;

  // Where to write `name` (one of the names) before commit().
  std::string file(const std::string& name) const;
  void commit();

 private:
  void remove_staged() const;

  std::string target_;
  std::vector<std::string> names_;
  std::string staging_;
  std::vector<int> slots_;  // the staged files', then the staging folder's, in the second signal's registry
  bool committed_ = false;
};

// The whole of `bytes` written to `path` through an AtomicFile.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace rosetta
