// Interruption by SIGINT or SIGTERM, as a promise (docs/reliability.md): the first signal only sets a flag that
// long-running loops poll at their safe points (a training step's end, between files of an export), so the work in
// progress finishes or is abandoned cleanly and the program exits 128 + signal with one line; a second signal exits
// at once, after removing every AtomicFile temporary still open (runtime/atomic_file.h registers them), so no
// half-written file is ever left behind and a file that existed before is intact.
// The handler does only async-signal-safe work: it stores the signal, or unlinks the registered paths and _exits.
#pragma once
#include <signal.h>

#include <stdexcept>
#include <string>

namespace rosetta {

// Installs the handlers for SIGINT and SIGTERM (once; later calls do nothing). SIGXFSZ is ignored too, so a write
// past a file-size limit fails with EFBIG and its one-line error rather than killing the process.
void install_interrupt_handlers();

// The signal received so far (SIGINT, SIGTERM), or 0.
int interrupt_signal();
// "SIGINT" / "SIGTERM".
std::string signal_name(int signal);

// Thrown at a safe point after a signal: the CLI prints its message and exits with exit_code().
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int signal, const std::string& what) : std::runtime_error(what), signal_(signal) {}
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// Throws Interrupted("interrupted by <signal> <where>") when a signal has arrived.
void throw_if_interrupted(const std::string& where);

namespace interrupt_detail {
// The registry of open temporaries that a second signal removes (AtomicFile and AtomicFolder only).
// register_temporary returns a slot (-1 when the registry is full: the file is still removed by its destructor on any normal exit).
// Create-and-register and remove-and-release run inside a SignalsBlocked scope, so a signal never falls between
// a temporary's creation and its registration.
class SignalsBlocked {
 public:
  SignalsBlocked();
  ~SignalsBlocked();
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};
int register_temporary(const std::string& path);
void release_temporary(int slot);
}  // namespace interrupt_detail

}  // namespace rosetta
