#include "bench/cli/commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "bench/cli/doctor.h"
#include "bench/cli/extract_resnet50.h"
#include "bench/cli/info.h"
#include "bench/cli/inspect.h"
#include "bench/cli/train_cnn.h"
#include "bench/cli/train_gru.h"
#include "commit.h"
#include "runtime/error.h"
#include "runtime/interrupt.h"

namespace rosetta::cli {

int run(int argc, char** argv) {
  CLI::App app{"rosetta: the reference C++/CUDA implementation of the Rosetta Stone deep-learning workloads"};
  app.set_version_flag("--version", std::string("rosetta ") + ROSETTA_VERSION + " (commit " + ROSETTA_COMMIT + ")");
  app.require_subcommand(1);
  install_interrupt_handlers();
  CLI::App* info = app.add_subcommand("info", "version, build options, CUDA/cuDNN/cuBLAS versions, devices");
  info->callback([] { print_info(); });

  std::string inspect_path;
  CLI::App* inspect = app.add_subcommand("inspect", "list the tensors of a safetensors file (names, dtypes, shapes)");
  inspect->add_option("file", inspect_path, "FILE.safetensors")->required();
  inspect->callback([&] { print_inspection(inspect_path); });

  CLI::App* train = app.add_subcommand("train", "train a workload: cnn, gru");
  train->require_subcommand(1);
  TrainCnnOptions cnn;
  add_train_cnn_command(*train, cnn);
  TrainGruOptions gru;
  add_train_gru_command(*train, gru);

  CLI::App* extract = app.add_subcommand("extract", "extract features with a pretrained network: resnet50");
  extract->require_subcommand(1);
  ExtractResNet50Options resnet50;
  add_extract_resnet50_command(*extract, resnet50);

  DoctorOptions doctor;
  add_doctor_command(app, doctor);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // a bad command line: one line, like every other bad input
    std::fprintf(stderr, "rosetta: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "rosetta: %s\n", e.what());
    return e.exit_code();
  } catch (const InputError& e) {
    std::fprintf(stderr, "rosetta: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rosetta: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace rosetta::cli
