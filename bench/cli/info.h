// `rosetta info`: what this build is and what it can see. Never fails on a machine without a GPU.
#pragma once

namespace rosetta::cli {

void print_info();

}  // namespace rosetta::cli
