// Helpers for tests of readers of untrusted files: capture the InputError a read throws and check its message
// is one line naming what it must name.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "runtime/error.h"

namespace rosetta::testing {

// The InputError message of `read`; a test failure (and "") when it returns or throws anything else.
inline std::string input_error(const std::function<void()>& read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected an InputError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected an InputError, but the read succeeded";
  return "";
}

// `message` is one line and contains every one of `parts`.
inline void expect_message(const std::string& message, std::initializer_list<std::string> parts) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: '" << message << "'";
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << message << "' lacks '" << part << "'";
  }
}

}  // namespace rosetta::testing
