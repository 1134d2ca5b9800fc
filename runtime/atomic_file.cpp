#include "runtime/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "runtime/error.h"
#include "runtime/interrupt.h"

namespace rosetta {
namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

AtomicFile::AtomicFile(const std::string& target) : target_(target) {
  static std::atomic<std::uint64_t> counter{0};
  const interrupt_detail::SignalsBlocked blocked;  // created and registered, or neither, when a signal comes
  const auto clock = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int attempt = 0; attempt < 16; ++attempt) {  // O_EXCL: a name in use by another writer is skipped
    const std::uint64_t tag = clock ^ (static_cast<std::uint64_t>(::getpid()) << 32) ^ (counter++ * 0x9E3779B97F4A7C15ull);
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".tmp-%016llx", static_cast<unsigned long long>(tag));
    path_ = target_ + suffix;
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

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace rosetta
