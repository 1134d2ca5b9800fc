"""IMDB token reader (numpy only) for the peers' GRU workload.

Reads the preprocessed tokens rosetta writes with `rosetta train gru --export-data F.npz` (x_train, x_test (N, 150)
int32, y_train, y_test (N,) int32), or the Keras imdb.npz itself, preprocessed here exactly as the seed does: each
review [1] + [w + 3 for w], every id >= 30000 -> 2, keep the LAST 150 tokens, pad 0 AFTER.

Invariants:
- Rows stay in file order (x_train row i is review i): the caller shuffles (or not, --no-shuffle) per epoch.
- Returned x are int32 (N, 150) with ids in [0, 30000), y int32 (N,) in {0, 1}, one label per row; anything else
  (a missing array, another shape, an id or label out of range, an unreadable file) raises DataError with one line
  naming the file and what was expected.
"""

import numpy as np

VOCABULARY, MAX_LENGTH, CLASSES = 30000, 150, 2
NAMES = ("x_train", "y_train", "x_test", "y_test")


class DataError(Exception):
    """Bad or missing data; str() is one line naming the file and the expectation."""


def seed_preprocess(sequences):
    """The seed's imdb_for_library: [1] + [w + 3], w >= 30000 -> 2, keep the last 150, pad 0 after."""
    out = np.zeros((len(sequences), MAX_LENGTH), dtype=np.int32)
    for i, sequence in enumerate(sequences):
        tokens = [1] + [int(w) + 3 for w in sequence]
        tokens = [2 if w >= VOCABULARY else w for w in tokens][-MAX_LENGTH:]
        out[i, :len(tokens)] = tokens
    return out


def load(path):
    """(x_train, y_train, x_test, y_test): x int32 (N, 150), y int32 (N,)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in NAMES}
    except ValueError:  # object arrays: the Keras file, whose lists are pickled (numpy's own reader)
        with np.load(path, allow_pickle=True) as f:
            arrays = {name: f[name] for name in NAMES}
        arrays["x_train"] = seed_preprocess(arrays["x_train"])
        arrays["x_test"] = seed_preprocess(arrays["x_test"])
    except (OSError, KeyError) as error:
        raise DataError("%s: %s" % (path, error))
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 2 or x.shape[1] != MAX_LENGTH or len(x) == 0:
            raise DataError("%s: x_%s is %s, expected (N, %d) with N > 0" % (path, split, x.shape, MAX_LENGTH))
        if x.min() < 0 or x.max() >= VOCABULARY:
            raise DataError("%s: x_%s has ids in [%d, %d], expected [0, %d)"
                            % (path, split, x.min(), x.max(), VOCABULARY))
        if y.shape != (len(x),) or y.min() < 0 or y.max() >= CLASSES:
            raise DataError("%s: y_%s is %s with labels in [%d, %d], expected (%d,) labels in [0, %d)"
                            % (path, split, y.shape, y.min(), y.max(), len(x), CLASSES))
    return tuple(arrays[name].astype(np.int32) for name in NAMES)
