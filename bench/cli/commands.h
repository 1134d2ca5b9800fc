// The `rosetta` sub-commands. run() parses argv, dispatches, and turns every exception into one line and an
// exit code: 2 for bad arguments or input files (rosetta::InputError and CLI11 parse errors), 1 otherwise.
#pragma once

namespace rosetta::cli {

int run(int argc, char** argv);

}  // namespace rosetta::cli
