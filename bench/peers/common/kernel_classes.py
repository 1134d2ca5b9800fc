"""GPU kernel names -> the profile classes of profile_classes.py, whoever launched the kernel: cuDNN's, cuBLAS's and
CUTLASS's kernels, the CUDA runtime's copies, rosetta's own kernels (kernels/cuda/*.cu), ATen's and Triton's
(PyTorch) and XLA's fusions. The one place where a kernel's name alone decides its class: PyTorch's breakdown
(../pytorch/torch_breakdown.py) asks it where the op that launched a kernel does not decide, the ncu summary
(bench/report/ncu_summary.py) for every kernel, as ncu sees names only.

Invariants: definite_class() answers only for names that say what they compute whatever launched them (a
convolution's data or filter gradient, a copy or layout change); name_class() answers for every name it
recognises, in the order of NAMES (the first match wins), and None for a name it does not know (the caller's
"other"). Tested on real names (bench/peers/pytorch/selftest.py, bench/report/test_ncu_summary.py).
"""

import re

DEFINITE = (
    (re.compile(r"dgrad", re.I), "conv_data_grad"),
    (re.compile(r"wgrad", re.I), "conv_filter_grad"),
    (re.compile(r"memcpy|memset|nchwToNhwc|nhwcToNchw|nchw_to_nhwc|nhwc_to_nchw", re.I), "copies"),
)
NAMES = (
    # optimizers: rosetta's one launch over the arena; PyTorch's fused and foreach kernels
    (re.compile(r"adam_kernel|sgd_momentum_kernel|FusedAdam|FusedSgd|fused_adam|fused_sgd|multi_tensor_apply", re.I),
     "optimizer"),
    (re.compile(r"fprop|convolve_sgemm|conv2d_grouped_direct|winograd|scudnn|fft2d|conv_kernel"
                r"|triton_\w*convolution", re.I), "conv_forward"),
    (re.compile(r"gemm|gemv|nvjet|matmul|splitKreduce|triton_tem_fused_(mm|addmm|bmm)", re.I), "gemm"),
    (re.compile(r"RNN|GRU|LSTM|gru_(forward|backward)_cells", re.I), "rnn"),
    (re.compile(r"transpose|copy|CatArray|convert_kernel|swap_leading_axes|relayout_channels|stage_parameters"
                r"|unstage_gradients", re.I), "copies"),
    (re.compile(r"^triton_(poi|red|per)_|elementwise|reduce|pool|softmax|nll_loss|dropout|bernoulli|embedding"
                r"|batch_?norm|op_tensor|activation|relu|index|fill|scatter|gather|cross_entropy|where|bias|residual"
                r"|increment_counter|iota|count_correct|sort_input|loop_\w*fusion|input_\w*fusion", re.I), "elementwise"),
)


def definite_class(name):
    for pattern, key in DEFINITE:
        if pattern.search(name):
            return key
    return None


def name_class(name):
    """The class of a kernel by its name alone, or None."""
    key = definite_class(name)
    if key:
        return key
    for pattern, key in NAMES:
        if pattern.search(name):
            return key
    return None
