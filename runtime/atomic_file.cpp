#include "runtime/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"
#include "runtime/interrupt.h"

namespace rosetta {
namespace {
std::string errno_text() { return std::strerror(errno); }

// A name for a fresh temporary beside `target`: its folder, then `prefix` + the target's name + ".tmp-<tag>".
std::string temporary_name(const std::string& target, const char* prefix) {
  static std::atomic<std::uint64_t> counter{0};
  const auto clock = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::uint64_t pid = static_cast<std::uint64_t>(::getpid()) << 32;
  const std::uint64_t tag = clock ^ pid ^ (counter++ * 0x9E3779B97F4A7C15ull);
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp-%016llx", static_cast<unsigned long long>(tag));
  const std::filesystem::path path(target);
  return (path.parent_path() / (prefix + path.filename().string() + suffix)).string();
}
}  // namespace

AtomicFile::AtomicFile(const std::string& target) : target_(target) {
  const interrupt_detail::SignalsBlocked blocked;  // created and registered, or neither, when a signal comes
  for (int attempt = 0; attempt < 16; ++attempt) {  // O_EXCL: a name in use by another writer is skipped
    path_ = temporary_name(target_, "");
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0 || errno != EEXIST) break;
  }
  if (fd_ < 0) ROSETTA_INPUT_ERROR(target_ << ": cannot create the file " << path_ << ": " << errno_text());
  // Readable by everyone, whatever the umask (records and reports are shared); the folder's rights still apply.
  if (::fchmod(fd_, 0644) != 0) {
    const std::string reason = errno_text();
    ::close(fd_);
    ::unlink(path_.c_str());
    ROSETTA_INPUT_ERROR(target_ << ": cannot set the mode of " << path_ << ": " << reason);
  }
  slot_ = interrupt_detail::register_temporary(path_);
}

AtomicFile::~AtomicFile() {
  const interrupt_detail::SignalsBlocked blocked;
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
  interrupt_detail::release_temporary(slot_);
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t written = ::write(fd_, p, bytes);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) ROSETTA_INPUT_ERROR(target_ << ": cannot write: " << errno_text());
    p += written;
    bytes -= static_cast<std::size_t>(written);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) ROSETTA_INPUT_ERROR(target_ << ": cannot flush: " << errno_text());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) ROSETTA_INPUT_ERROR(target_ << ": cannot close: " << errno_text());
  const interrupt_detail::SignalsBlocked blocked;  // renamed and released, or neither
  if (::rename(path_.c_str(), target_.c_str()) != 0)
    ROSETTA_INPUT_ERROR(target_ << ": cannot replace it with the new file: " << errno_text());
  committed_ = true;
  interrupt_detail::release_temporary(slot_);
  slot_ = -1;
}

AtomicFolder::AtomicFolder(const std::string& target, std::vector<std::string> names)
    : target_(target), names_(std::move(names)) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(target_, error)) {
    if (!fs::is_directory(target_, error)) ROSETTA_INPUT_ERROR(target_ << ": exists and is not a folder");
    for (const fs::directory_entry& entry : fs::directory_iterator(target_, error)) {
      const std::string name = entry.path().filename().string();
      bool ours = false;
      for (const std::string& n : names_) ours = ours || n == name;
      if (!ours || !entry.is_regular_file(error))
        ROSETTA_INPUT_ERROR(target_ << ": holds " << name << ", which is not part of this output (it would be "
                                    << "replaced whole): give a new folder or an earlier output's");
    }
    if (error) ROSETTA_INPUT_ERROR(target_ << ": cannot list the folder: " << error.message());
  }
  const interrupt_detail::SignalsBlocked blocked;  // created and registered, or neither
  for (int attempt = 0; attempt < 16 && staging_.empty(); ++attempt) {
    const std::string candidate = temporary_name(target_, ".");
    if (::mkdir(candidate.c_str(), 0755) == 0) staging_ = candidate;
    else if (errno != EEXIST)
      ROSETTA_INPUT_ERROR(target_ << ": cannot create the folder " << candidate << ": " << errno_text());
  }
  if (staging_.empty()) ROSETTA_INPUT_ERROR(target_ << ": cannot find a free temporary folder name beside it");
  // The handler unlinks every path, then removes the folders: the files' slots empty the staging folder first.
  for (const std::string& name : names_) slots_.push_back(interrupt_detail::register_temporary(file(name)));
  slots_.push_back(interrupt_detail::register_temporary(staging_));
}

AtomicFolder::~AtomicFolder() {
  const interrupt_detail::SignalsBlocked blocked;
  if (!committed_) remove_staged();
  for (int slot : slots_) interrupt_detail::release_temporary(slot);
}

std::string AtomicFolder::file(const std::string& name) const {
  bool known = false;
  for (const std::string& n : names_) known = known || n == name;
  ROSETTA_CHECK(known, target_ << ": " << name << " is not one of the folder's files");
  return staging_ + "/" + name;
}

void AtomicFolder::remove_staged() const {
  for (const std::string& name : names_) ::unlink((staging_ + "/" + name).c_str());
  ::rmdir(staging_.c_str());
}

void AtomicFolder::commit() {
  for (const std::string& name : names_)
    ROSETTA_CHECK(::access(file(name).c_str(), F_OK) == 0, target_ << ": " << name << " was not written");
  const int folder = ::open(staging_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder < 0 || ::fsync(folder) != 0) {
    const std::string reason = errno_text();
    if (folder >= 0) ::close(folder);
    ROSETTA_INPUT_ERROR(target_ << ": cannot flush " << staging_ << ": " << reason);
  }
  ::close(folder);
  const interrupt_detail::SignalsBlocked blocked;  // swapped and released, or neither
  std::error_code error;
  const bool replacing = std::filesystem::exists(target_, error);
  const int moved = replacing ? ::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE)
                              : ::rename(staging_.c_str(), target_.c_str());
  if (moved != 0) ROSETTA_INPUT_ERROR(target_ << ": cannot replace it with the new folder: " << errno_text());
  committed_ = true;
  for (int slot : slots_) interrupt_detail::release_temporary(slot);
  slots_.clear();
  // The staging name now holds the old set, which the constructor checked holds only our names.
  if (replacing) remove_staged();
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace rosetta
