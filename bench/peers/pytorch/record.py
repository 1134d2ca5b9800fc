"""What the PyTorch peers share: precision switches, version strings and the JSON result record's common fields
(the framework-neutral ones, driver, commit and date, from ../common/peer.py).

Invariants:
- set_tf32 sets the two legacy TF32 switches (cuBLAS matmul, cuDNN) and returns them as read back, so a caller can
  refuse a run whose switches did not take (an environment override).
- base_record holds exactly the fields every workload's record shares, in rosetta's spelling (DESIGN.md "Results");
  each peer adds its workload's own fields.
"""

import warnings

import torch

import peer


def set_tf32(allow):
    """Sets both TF32 switches explicitly and returns them as read back: (cuBLAS matmul, cuDNN)."""
    # Only the legacy switches, as the workloads specify: torch >= 2.9 also has fp32_precision, and mixing the
    # two APIs makes later reads (by torch.compile, too) raise. From 2.9 the legacy setters may warn that they
    # are to be deprecated; they still set the state (read back here), so that one warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TF32")
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow
        return bool(torch.backends.cuda.matmul.allow_tf32), bool(torch.backends.cudnn.allow_tf32)


def cudnn_version_string():
    """torch.backends.cudnn.version() as "major.minor.patch" (cuDNN 9 encodes M*10000+m*100+p, 8: M*1000+m*100+p)."""
    version = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if not version:
        return None
    if version >= 90000:
        return "%d.%d.%d" % (version // 10000, version % 10000 // 100, version % 100)
    return "%d.%d.%d" % (version // 1000, version % 1000 // 100, version % 100)


def device_name(device):
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def base_record(workload, device, mode, precision, batch):
    """The fields every peer record shares."""
    return {
        "workload": workload,
        "framework": "pytorch",
        "framework_version": str(torch.__version__),
        "mode": mode,
        "device": device_name(device),
        "driver": peer.nvidia_driver() if device.type == "cuda" else None,
        "cuda": torch.version.cuda,
        "cudnn": cudnn_version_string(),
        "precision": precision,
        "batch": batch,
        **peer.provenance(),
    }
