#include "runtime/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>

namespace rosetta {
namespace {

// Open AtomicFile temporaries. A slot is claimed, its path written, then marked ready; the handler unlinks ready
// slots only, so it never reads a half-written path.
constexpr int kSlots = 64;
constexpr std::size_t kPathBytes = 4096;  // PATH_MAX on Linux
char slot_paths[kSlots][kPathBytes];
enum SlotState : int { kFree = 0, kWriting = 1, kReady = 2 };
std::atomic<int> slot_state[kSlots];

volatile std::sig_atomic_t received = 0;

extern "C" void on_signal(int signal) {
  if (received != 0) {  // the second signal: no more waiting for a safe point
    for (int i = 0; i < kSlots; ++i)  // files first, then the (then empty) folders of an AtomicFolder
      if (slot_state[i].load() == kReady) ::unlink(slot_paths[i]);
    for (int i = 0; i < kSlots; ++i)
      if (slot_state[i].load() == kReady) ::rmdir(slot_paths[i]);
    static const char message[] = "rosetta: second signal: stopped at once, temporary files removed\n";
    const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    (void)ignored;
    ::_exit(128 + signal);
  }
  received = signal;
}

}  // namespace

interrupt_detail::SignalsBlocked::SignalsBlocked() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &previous_);
}
interrupt_detail::SignalsBlocked::~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

void install_interrupt_handlers() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocking read or write returns EINTR and the loops retry
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGXFSZ, SIG_IGN);
    return true;
  }();
  (void)installed;
}

int interrupt_signal() { return received; }

std::string signal_name(int signal) {
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal " + std::to_string(signal);
}

void throw_if_interrupted(const std::string& where) {
  if (received != 0) throw Interrupted(received, "interrupted by " + signal_name(received) + " " + where);
}

namespace interrupt_detail {

int register_temporary(const std::string& path) {
  if (path.size() >= kPathBytes) return -1;
  static std::atomic<int> next{0};
  for (int tries = 0; tries < kSlots; ++tries) {
    const int slot = next++ % kSlots;
    int expected = kFree;
    if (!slot_state[slot].compare_exchange_strong(expected, kWriting)) continue;
    std::memcpy(slot_paths[slot], path.c_str(), path.size() + 1);
    slot_state[slot].store(kReady);
    return slot;
  }
  return -1;
}

void release_temporary(int slot) {
  if (slot >= 0) slot_state[slot].store(kFree);
}

}  // namespace interrupt_detail
}  // namespace rosetta
