"""The peers' one way of writing a file, as rosetta's runtime/atomic_file.h does it.

Invariant: the content goes to a temporary file beside the target, is flushed and fsynced, then renamed over the
target (os.replace); on any failure the temporary file is removed and the target is untouched, so a failed run
never leaves half a file or overwrites a good one.
"""

import os
import tempfile


def atomic_write(path, write, binary=False):
    """Calls write(f) on a temporary file beside `path` (opened for text, or bytes), then renames it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    try:
        with os.fdopen(descriptor, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_text(path, text):
    """atomic_write of one string."""
    atomic_write(path, lambda f: f.write(text))
