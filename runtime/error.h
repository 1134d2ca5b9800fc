// rosetta::Error and ROSETTA_CHECK: every failure in rosetta is an exception that says what failed, where
// (file:line), and with which values or shapes. Library code never calls exit().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace rosetta {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input from outside the program: a malformed file, a wrong argument. The CLI exits 2 on it (1 on Error).
class InputError : public Error {
 public:
  using Error::Error;
};

// Builds "file:line: what" and throws it as rosetta::Error.
[[noreturn]] void throw_error(const char* file, int line, const std::string& what);

}  // namespace rosetta

// ROSETTA_CHECK(cond, "expected C == " << c << ", got " << x): throws with the condition and the message.
#define ROSETTA_CHECK(cond, message)                                                          \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::ostringstream rosetta_check_os_;                                                   \
      rosetta_check_os_ << "check failed: " #cond ": " << message;                           \
      ::rosetta::throw_error(__FILE__, __LINE__, rosetta_check_os_.str());                    \
    }                                                                                         \
  } while (0)

// ROSETTA_INPUT_ERROR("file.bin: record 7: label 12, expected 0-9"): throws InputError with exactly that text
// (no file:line of rosetta's source: the message is for the user and names *their* file).
#define ROSETTA_INPUT_ERROR(message)                                                          \
  do {                                                                                        \
    std::ostringstream rosetta_input_os_;                                                     \
    rosetta_input_os_ << message;                                                             \
    throw ::rosetta::InputError(rosetta_input_os_.str());                                     \
  } while (0)

// ROSETTA_FAIL("message " << value): throws unconditionally.
#define ROSETTA_FAIL(message)                                                                 \
  do {                                                                                        \
    std::ostringstream rosetta_fail_os_;                                                      \
    rosetta_fail_os_ << message;                                                              \
    ::rosetta::throw_error(__FILE__, __LINE__, rosetta_fail_os_.str());                       \
  } while (0)
