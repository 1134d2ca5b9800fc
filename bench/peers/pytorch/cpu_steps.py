"""PyTorch's CPU build on rosetta's three units of work, for the comparison of rosetta's CPU twins with it.

Times, with torch.set_num_threads(--threads), the median of --reps calls after --warmup untimed ones:
- cnn_step: one training step of the CIFAR CNN (cnn.py's model) at batch 64: forward with dropout, mean
  cross-entropy, backward, SGD with momentum 0.9 (lr 0.01), as rosetta's CifarVGG::step;
- gru_step: one training step of the IMDB GRU (gru.py's model, time-major) at batch 64, 150 tokens: embedding, GRU,
  the last step's logits, cross-entropy, backward, Adam (lr 1e-3), as rosetta's ImdbGRU::step;
- resnet50_forward: torchvision's resnet50 (fc removed, eval mode, inference_mode) on batch 1 and 8 of 224x224
  images, as rosetta's ResNet50::forward.
Inputs are random (the timings do not depend on their values). Prints one JSON object per measurement:
{"unit": ..., "batch": ..., "threads": ..., "median_ms": ..., "min_ms": ..., "max_ms": ..., "torch": ...}.
Usage: /usr/bin/python3 bench/peers/pytorch/cpu_steps.py [--threads 2] [--reps 7] [--warmup 2]
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

from cnn import CifarVGG  # noqa: E402
from gru import ImdbGRU  # noqa: E402
from imdb import MAX_LENGTH, VOCABULARY  # noqa: E402


def timed(call, reps, warmup):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def cnn_step(batch):
    model = CifarVGG(dropout=True)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()

    return step


def gru_step(batch):
    model = ImdbGRU(batch_first=False)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tokens, labels = torch.randint(0, VOCABULARY, (MAX_LENGTH, batch)), torch.randint(0, 2, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(tokens), labels).backward()
        optimizer.step()

    return step


def resnet50_forward(batch):
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    images = torch.rand(batch, 3, 224, 224)

    def forward():
        with torch.inference_mode():
            model(images)

    return forward


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for unit, batch, make in [("cnn_step", 64, cnn_step), ("gru_step", 64, gru_step),
                              ("resnet50_forward", 1, resnet50_forward), ("resnet50_forward", 8, resnet50_forward)]:
        times = timed(make(batch), args.reps, args.warmup)
        print(json.dumps({"unit": unit, "batch": batch, "threads": args.threads, "median_ms": statistics.median(times),
                          "min_ms": min(times), "max_ms": max(times), "torch": torch.__version__}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
