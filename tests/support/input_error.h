// Helpers for tests of readers of untrusted files: capture the InputError a read throws and check its message
// is one line naming what it must name; damage valid bytes at random for the fuzz tests.
#pragma once
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "datasets/shuffle.h"  // PhiloxWords
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

// 1 to max_edits random edits of `bytes`, each an overwrite, an insertion or a deletion of one byte, or a
// truncation, with positions and values drawn from `draw` (so a seeded test damages the same way every run).
inline void damage_at_random(std::vector<std::uint8_t>& bytes, PhiloxWords& draw, std::uint32_t max_edits) {
  const std::uint32_t edits = 1 + draw.below(max_edits);
  for (std::uint32_t e = 0; e < edits && !bytes.empty(); ++e) {
    const std::size_t at = draw.below(static_cast<std::uint32_t>(bytes.size()));
    const auto value = static_cast<std::uint8_t>(draw.below(256));
    switch (draw.below(4)) {
      case 0: bytes[at] = value; break;
      case 1: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), value); break;
      case 2: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at)); break;
      default: bytes.resize(at); break;
    }
  }
}

}  // namespace rosetta::testing
