// OptionRule: a rule between two of a model's options that a set of options breaks, e.g. "precision bf16 needs
// layout nhwc". Models state their rules (ResNet50Options::broken_rule); the command line words them with its own
// flag names ("--precision bf16 needs --layout nhwc"), so each rule is written once, in the model that needs it.
#pragma once
#include <string>

namespace rosetta {

struct OptionRule {
  std::string option, value;        // the option as set ("precision", "bf16") ...
  std::string required, required_value;  // ... needs this one at this value ("layout", "nhwc")
};

}  // namespace rosetta
