// Python oracles for tests: runs a short script with the interpreter that has torch and reads back the
// numbers it prints. The interpreter is $ROSETTA_PYTHON, else /usr/bin/python3 (on the build machines the first
// python3 on PATH has no torch). Oracle tests skip, with the reason, when `import torch` (or, for the file-format
// tests, `import numpy`) fails there.
// The JAX peers run under their own interpreter: $ROSETTA_JAX_PYTHON, else the venv tools/setup.sh makes
// (<source>/.venv-jax/bin/python). setup.sh always installs it, so the JAX tests fail, never skip, without it.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/paths.h"

namespace rosetta::testing {

inline std::string python_interpreter() {
  const char* configured = std::getenv("ROSETTA_PYTHON");
  return configured && *configured ? configured : "/usr/bin/python3";
}

inline std::string jax_python_interpreter() {
  const char* configured = std::getenv("ROSETTA_JAX_PYTHON");
  return configured && *configured ? configured : source_dir() + "/.venv-jax/bin/python";
}

struct PythonRun {
  int status = -1;     // exit status of the interpreter (-1: it could not be started)
  std::string output;  // stdout and stderr together
};

// Writes `script` to a temporary file and runs it with `interpreter`.
inline PythonRun run_python(const std::string& script, const std::string& interpreter = python_interpreter()) {
  static int counter = 0;
  const std::string path =
      ::testing::TempDir() + "rosetta_oracle_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".py";
  std::ofstream(path) << script;
  PythonRun run;
  FILE* pipe = popen((interpreter + " " + path + " 2>&1").c_str(), "r");
  if (pipe) {
    char buffer[4096];
    std::size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, got);
    const int status = pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::remove(path.c_str());
  return run;
}

// Empty when the interpreter imports torch; otherwise why it cannot be used. Probed once.
inline const std::string& torch_unavailable_reason() {
  static const std::string reason = [] {
    const PythonRun run = run_python("import torch\nprint(torch.__version__)\n");
    if (run.status == 0) return std::string();
    return python_interpreter() + " cannot import torch (set ROSETTA_PYTHON to one that can): " + run.output;
  }();
  return reason;
}

// Empty when the interpreter imports numpy; otherwise why it cannot be used. Probed once.
inline const std::string& numpy_unavailable_reason() {
  static const std::string reason = [] {
    const PythonRun run = run_python("import numpy\nprint(numpy.__version__)\n");
    if (run.status == 0) return std::string();
    return python_interpreter() + " cannot import numpy (set ROSETTA_PYTHON to one that can): " + run.output;
  }();
  return reason;
}

// Empty when the JAX interpreter imports jax, flax and optax; otherwise why not and what to do. Probed once.
inline const std::string& jax_unavailable_reason() {
  static const std::string reason = [] {
    const PythonRun run = run_python("import jax, flax, optax\nprint(jax.__version__)\n", jax_python_interpreter());
    if (run.status == 0) return std::string();
    return jax_python_interpreter() + " cannot import jax, flax and optax: run tools/setup.sh (it installs them " +
           "into .venv-jax), or set ROSETTA_JAX_PYTHON to a Python that has them: " + run.output;
  }();
  return reason;
}

// Every whitespace-separated number the script printed, in order; fails the test if the script failed.
inline std::vector<double> python_numbers(const std::string& script) {
  const PythonRun run = run_python(script);
  std::vector<double> numbers;
  EXPECT_EQ(run.status, 0) << "python oracle failed:\n" << run.output;
  if (run.status != 0) return numbers;
  std::istringstream in(run.output);
  double value;
  while (in >> value) numbers.push_back(value);
  return numbers;
}

// Python source for a list of floats that reads back exactly (9 significant digits round-trip a float32).
inline std::string python_list(const std::vector<float>& values) {
  std::ostringstream os;
  os.precision(9);
  os << "[";
  for (std::size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << values[i];
  os << "]";
  return os.str();
}

}  // namespace rosetta::testing

#define ROSETTA_REQUIRE_TORCH()                                                  \
  do {                                                                           \
    if (!::rosetta::testing::torch_unavailable_reason().empty()) {               \
      GTEST_SKIP() << ::rosetta::testing::torch_unavailable_reason();            \
    }                                                                            \
  } while (0)

// The JAX twins are part of every setup (tools/setup.sh), so their absence fails the test instead of skipping it.
#define ROSETTA_REQUIRE_JAX()                                                    \
  do {                                                                           \
    if (!::rosetta::testing::jax_unavailable_reason().empty()) {                 \
      GTEST_FAIL() << ::rosetta::testing::jax_unavailable_reason();              \
    }                                                                            \
  } while (0)

#define ROSETTA_REQUIRE_NUMPY()                                                  \
  do {                                                                           \
    if (!::rosetta::testing::numpy_unavailable_reason().empty()) {               \
      GTEST_SKIP() << ::rosetta::testing::numpy_unavailable_reason();            \
    }                                                                            \
  } while (0)
