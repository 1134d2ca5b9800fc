// The class of work each kernel op does, for `--profile`'s breakdown (bench/cli/profile_report.h). The classes are
// those every framework's breakdown is grouped into (docs/comparison.md "Where the time goes"; the peers' mapping
// of their own kernel and op names is bench/peers/common/profile_classes.py and its framework modules):
// convolution forward, data gradient, filter gradient, GEMM, RNN, element-wise, optimizer, copies. `none` is an op
// that runs at setup (plans, algorithm searches, cache files, size queries): it opens no region.
//
// Invariant: every op name that kernels/*.h declares with ROSETTA_OP has exactly one row in kOpClasses; ROSETTA_OP
// refuses to compile an op without one (a static_assert naming this file), so a new op cannot go unclassified.
#pragma once
#include <cstdint>
#include <iterator>
#include <string_view>

namespace rosetta::kernels {

enum class OpClass : std::uint8_t {
  conv_forward,      // convolutions' forward, fused bias/activation included
  conv_data_grad,    // convolutions' input gradient
  conv_filter_grad,  // convolutions' weight gradient
  gemm,              // matrix products (fully connected layers)
  rnn,               // recurrent layers, their matrix products included
  elementwise,       // activations, pooling, dropout, bias, batch norm, losses, embeddings, reductions, fills
  optimizer,         // the parameter update
  copies,            // copies, layout changes and dtype conversions
  none,              // setup: not timed
};
inline constexpr int kOpClassCount = 8;  // the timed classes, conv_forward .. copies

// The JSON and table name of a timed class: "conv_forward", ... (profile records, docs/schema).
constexpr const char* op_class_name(OpClass c) {
  constexpr const char* names[] = {"conv_forward", "conv_data_grad", "conv_filter_grad", "gemm", "rnn",
                                   "elementwise",  "optimizer",      "copies",           "none"};
  return names[static_cast<int>(c)];
}

struct OpClassRow {
  std::string_view op;
  OpClass op_class;
};

inline constexpr OpClassRow kOpClasses[] = {
    {"conv2d_forward", OpClass::conv_forward},
    {"conv2d_bias_activation_forward", OpClass::conv_forward},
    {"conv2d_backward_data", OpClass::conv_data_grad},
    {"conv2d_backward_filter", OpClass::conv_filter_grad},
    {"gemm", OpClass::gemm},
    {"matmul", OpClass::gemm},
    {"gru_forward", OpClass::rnn},
    {"gru_backward", OpClass::rnn},
    {"sgd_momentum_update", OpClass::optimizer},
    {"adam_update", OpClass::optimizer},
    {"copy", OpClass::copies},
    {"convert", OpClass::copies},
    {"change_layout", OpClass::copies},
    {"swap_leading_axes", OpClass::copies},
    {"relayout_channels", OpClass::copies},
    {"stage_parameters", OpClass::copies},
    {"unstage_gradients", OpClass::copies},
    {"fill", OpClass::elementwise},
    {"bias_add", OpClass::elementwise},
    {"bias_backward", OpClass::elementwise},
    {"bias_residual_activation", OpClass::elementwise},
    {"relu_forward", OpClass::elementwise},
    {"relu_backward", OpClass::elementwise},
    {"dropout_forward", OpClass::elementwise},
    {"dropout_backward", OpClass::elementwise},
    {"bias_relu_dropout_forward", OpClass::elementwise},
    {"bias_relu_dropout_backward", OpClass::elementwise},
    {"increment_counter", OpClass::elementwise},
    {"maxpool2d_forward", OpClass::elementwise},
    {"maxpool2d_backward", OpClass::elementwise},
    {"maxpool2d_relu_dropout_forward", OpClass::elementwise},
    {"maxpool2d_relu_dropout_backward", OpClass::elementwise},
    {"global_avgpool_forward", OpClass::elementwise},
    {"batchnorm_inference_forward", OpClass::elementwise},
    {"embedding_forward", OpClass::elementwise},
    {"embedding_backward", OpClass::elementwise},
    {"softmax_cross_entropy", OpClass::elementwise},
    {"count_correct", OpClass::elementwise},
    {"plan_conv2d", OpClass::none},
    {"find_conv_algorithms", OpClass::none},
    {"conv_plan_with_choice", OpClass::none},
    {"load_conv_algorithm_cache", OpClass::none},
    {"save_conv_algorithm_cache", OpClass::none},
    {"conv_autotune_stats", OpClass::none},
    {"plan_matmul", OpClass::none},
    {"find_matmul_algorithms", OpClass::none},
    {"matmul_plan_with_choice", OpClass::none},
    {"plan_gru", OpClass::none},
    {"embedding_backward_workspace_bytes", OpClass::none},
};

// The index of `op`'s row in kOpClasses, or -1. An index, not a pointer: GCC's UBSan instrumentation makes a
// pointer's comparison with nullptr non-constant, and ROSETTA_OP's static_assert must stay a constant expression in
// the sanitizer build.
constexpr int op_class_row(std::string_view op) {
  for (int i = 0; i < static_cast<int>(std::size(kOpClasses)); ++i)
    if (kOpClasses[i].op == op) return i;
  return -1;
}

// The class of a listed op (ROSETTA_OP has checked that it is listed).
constexpr OpClass op_class(std::string_view op) {
  const int row = op_class_row(op);
  return row >= 0 ? kOpClasses[row].op_class : OpClass::none;
}

}  // namespace rosetta::kernels
