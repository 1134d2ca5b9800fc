// How much memory a piece of work takes at its peak, for the tests of the readers' amplification caps: the work
// runs in a forked child (so an unbounded allocation cannot take the test process down, and the peak is the work's
// alone), which reports how it ended and how far its peak resident set (VmHWM) rose above where it started.
// Invariants: the parent is never changed by the work; a child that dies (a signal, an abort, the OOM killer) is
// reported as such, never as success.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "runtime/error.h"

namespace rosetta::testing {

// A peak-memory bound for this build: `bytes` as stated, or twice it under AddressSanitizer, whose redzones,
// shadow memory and freed-block quarantine roughly double a heap's resident size (the 50,000-tensor safetensors
// header peaks at 135 MB under ASan). A cap's purpose, catching growth beyond linear, survives the factor.
inline std::uint64_t memory_bound(std::uint64_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  return 2 * bytes;
#else
  return bytes;
#endif
}

struct MeasuredRun {
  std::string outcome;             // "ok", "InputError: <message>", "exception: <what>" or "died: <how>"
  std::uint64_t peak_growth = 0;   // bytes the peak resident set rose by during the work
};

// The peak resident set of this process so far (VmHWM), in bytes.
inline std::uint64_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  }
  return 0;
}

inline MeasuredRun run_measured(const std::function<void()>& work) {
  int channel[2];
  if (pipe(channel) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {"died: no pipe", 0};
  }
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    close(channel[0]);
    const std::uint64_t start = peak_resident_bytes();  // a forked child's peak starts at its resident set
    std::string outcome = "ok";
    try {
      work();
    } catch (const InputError& e) {
      outcome = std::string("InputError: ") + e.what();
    } catch (const std::exception& e) {
      outcome = std::string("exception: ") + e.what();
    }
    const std::string report = std::to_string(peak_resident_bytes() - start) + " " + outcome;
    const ssize_t written = write(channel[1], report.data(), report.size());
    _exit(written == static_cast<ssize_t>(report.size()) ? 0 : 1);
  }
  close(channel[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(channel[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
  close(channel[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || report.find(' ') == std::string::npos) {
    return {"died: " + (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                            : "exit " + std::to_string(WEXITSTATUS(status))),
            0};
  }
  const std::size_t space = report.find(' ');
  return {report.substr(space + 1), std::stoull(report.substr(0, space))};
}

}  // namespace rosetta::testing
