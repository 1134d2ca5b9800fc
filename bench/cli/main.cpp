// rosetta: the command line. Every failure becomes one line on stderr and exit code 2 (bad input) or 1
// (anything else); nothing here knows a workload's details beyond dispatching to its command.
#include "bench/cli/commands.h"

int main(int argc, char** argv) { return rosetta::cli::run(argc, argv); }
