"""CIFAR-10 binary reader (numpy only) for the peers; also reads rosetta's synthetic set (same format).

Format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"): data_batch_1.bin .. data_batch_5.bin
and test_batch.bin, each exactly 10000 records of 3073 bytes: 1 label byte (0..9), then 3072 pixel bytes as
three 32x32 planes R, G, B, rows top to bottom.

Invariants:
- Train order is data_batch_1..5 in turn (50000 images); test is test_batch.bin (10000 images). Nothing is
  shuffled here: the caller shuffles (or not, --no-shuffle) per epoch.
- Images are float32 NCHW (N, 3, 32, 32) computed as float32(byte) / float32(255) (one correctly rounded
  IEEE division, as `byte / 255.0f` in C++), labels int64 (N,).
- A missing file, a file of the wrong size or a label outside 0..9 raises DataError with one line naming the
  file and what was expected; `python3 cifar10.py DIR` checks a folder and exits 2 on bad data.
"""

import os
import sys

import numpy as np

RECORDS_PER_FILE = 10000
IMAGE_SHAPE = (3, 32, 32)  # (C, H, W)
RECORD_BYTES = 1 + 3 * 32 * 32
FILE_BYTES = RECORDS_PER_FILE * RECORD_BYTES  # 30730000
TRAIN_FILES = tuple("data_batch_%d.bin" % i for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
NUM_CLASSES = 10


class DataError(Exception):
    """Bad or missing data; str() is one line naming the file and the expectation."""


def read_file(path):
    """Reads one binary batch file. Returns (images uint8 (N, 3, 32, 32), labels uint8 (N,))."""
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise DataError("%s: cannot open (%s); expected a CIFAR-10 binary file of %d bytes"
                        % (path, error.strerror or error, FILE_BYTES))
    if size != FILE_BYTES:
        raise DataError("%s: %d bytes, expected %d (%d records of %d bytes)"
                        % (path, size, FILE_BYTES, RECORDS_PER_FILE, RECORD_BYTES))
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError("%s: cannot read (%s)" % (path, error.strerror or error))
    if raw.size != FILE_BYTES:
        raise DataError("%s: read %d bytes, expected %d" % (path, raw.size, FILE_BYTES))
    records = raw.reshape(RECORDS_PER_FILE, RECORD_BYTES)
    labels = records[:, 0].copy()  # (N,)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise DataError("%s: record %d has label %d, expected 0..%d"
                        % (path, int(bad[0]), int(labels[bad[0]]), NUM_CLASSES - 1))
    images = records[:, 1:].reshape((RECORDS_PER_FILE,) + IMAGE_SHAPE)  # (N, 3, 32, 32)
    return images, labels


def load_split(data_dir, train):
    """Returns (x float32 (N, 3, 32, 32) in [0, 1], y int64 (N,)) for the train (50000) or test (10000) split."""
    names = TRAIN_FILES if train else TEST_FILES
    parts = [read_file(os.path.join(data_dir, name)) for name in names]
    images = np.concatenate([p[0] for p in parts])  # (N, 3, 32, 32) uint8
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)  # (N,)
    x = images.astype(np.float32)
    x /= np.float32(255.0)
    return x, labels


def main(argv):
    if len(argv) != 2:
        print("usage: cifar10.py DIR  (checks data_batch_1..5.bin and test_batch.bin)", file=sys.stderr)
        return 2
    try:
        for train in (True, False):
            x, y = load_split(argv[1], train)
            print("%s: x %s %s in [%.3f, %.3f], labels per class %s"
                  % ("train" if train else "test", x.dtype, x.shape, x.min(), x.max(),
                     np.bincount(y, minlength=NUM_CLASSES).tolist()))
    except DataError as error:
        print("cifar10: error: %s" % error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
