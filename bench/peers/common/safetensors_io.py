"""Pure-Python safetensors reader and writer (json + struct + numpy; torch optional).

Lets the peers (PyTorch, JAX) exchange weights with rosetta on machines without the `safetensors` package
(Debian's torch 1.13 here). File layout (https://github.com/huggingface/safetensors):
    8 bytes   little-endian u64 N = header length in bytes
    N bytes   UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
              optional "__metadata__": {str: str}}; the writer pads it with spaces to a multiple of 8
    rest      the data buffer; offsets are relative to its start; tensors are row-major little-endian

Invariants:
- The reader trusts nothing: the header length, the JSON, every dtype, shape and offset pair are checked;
  each tensor's byte length must equal prod(shape) * itemsize, tensors may not overlap, and together they
  must cover the data buffer exactly (no holes, no trailing bytes), as the reference Rust reader requires.
  Any violation raises SafetensorsError naming the file and the tensor.
- Supported dtypes: F32, F16, BF16, F64, I32, I64, U8, U64. numpy has no bfloat16, so BF16 travels as a
  uint16 array of the raw bits; `load_with_dtypes` keeps the dtype tag, `save` takes (dtype, array) pairs
  for BF16. The torch helpers convert BF16 <-> torch.bfloat16 bit-exactly.
- The writer lays tensors out contiguously by element size, largest first (ties keep the given order), after a
  header padded to 8 bytes, as the reference writer does: every tensor then starts at a multiple of its
  element size, so readers may map it in place. It writes through atomic_file: a good file is never left half
  written or overwritten by a failed save.
"""

import functools
import json
import operator
import os
import struct

import numpy as np

import atomic_file

# safetensors dtype tag -> little-endian numpy dtype of the stored bytes.
_NUMPY_DTYPE = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bfloat16 bits
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
    "U64": np.dtype("<u8"),
}
# numpy dtype -> tag, for arrays given without an explicit tag (uint16 is ambiguous, so it needs one).
_TAG_OF_NUMPY = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("uint8"): "U8",
    np.dtype("uint64"): "U64",
}
# The reference implementation refuses headers above 100 MB; so do we (a corrupt length is caught early).
_MAX_HEADER_BYTES = 100 * 1000 * 1000


class SafetensorsError(ValueError):
    """A malformed file or an unsupported tensor; the message names the file and what is wrong."""


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise SafetensorsError("duplicate key %r in the JSON header" % key)
        result[key] = value
    return result


def _parse_header(path, header_bytes, buffer_bytes):
    """Returns ([(name, tag, shape, begin, end)] sorted by begin, metadata dict) after full validation."""
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except SafetensorsError as error:
        raise SafetensorsError("%s: %s" % (path, error))
    except (UnicodeDecodeError, ValueError) as error:
        raise SafetensorsError("%s: the header is not valid UTF-8 JSON (%s)" % (path, error))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: the header is not a JSON object" % path)

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise SafetensorsError("%s: __metadata__ must map strings to strings" % path)

    entries = []
    for name, info in header.items():
        where = "%s: tensor %r" % (path, name)
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError("%s: entry must have exactly dtype, shape, data_offsets" % where)
        tag, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if tag not in _NUMPY_DTYPE:
            raise SafetensorsError(
                "%s: unsupported dtype %r (supported: %s)" % (where, tag, ", ".join(sorted(_NUMPY_DTYPE)))
            )
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise SafetensorsError("%s: shape %r is not a list of non-negative integers" % (where, shape))
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise SafetensorsError("%s: data_offsets %r is not a pair of integers" % (where, offsets))
        begin, end = offsets
        if not 0 <= begin <= end <= buffer_bytes:
            raise SafetensorsError(
                "%s: data_offsets [%d, %d] outside the %d-byte data buffer" % (where, begin, end, buffer_bytes)
            )
        expected = functools.reduce(operator.mul, shape, 1) * _NUMPY_DTYPE[tag].itemsize  # exact Python ints
        if end - begin != expected:
            raise SafetensorsError(
                "%s: %d bytes stored but %s %s needs %d" % (where, end - begin, tag, shape, expected)
            )
        entries.append((name, tag, tuple(shape), begin, end))

    entries.sort(key=lambda e: (e[3], e[4]))
    position = 0
    for name, _, _, begin, end in entries:
        if begin != position:
            problem = "overlaps the previous tensor" if begin < position else "leaves a hole before it"
            raise SafetensorsError("%s: tensor %r at byte %d %s" % (path, name, begin, problem))
        position = end
    if position != buffer_bytes:
        raise SafetensorsError(
            "%s: tensors cover %d bytes but the data buffer has %d" % (path, position, buffer_bytes)
        )
    return entries, metadata


def load_with_dtypes(path):
    """Reads `path`. Returns ({name: (tag, numpy array)} in file order, metadata {str: str}).

    Arrays are writable copies in native byte order; BF16 arrays are uint16 bit patterns.
    """
    try:
        file_bytes = os.path.getsize(path)
        with open(path, "rb") as f:
            if file_bytes < 8:
                raise SafetensorsError("%s: %d bytes, too short for the 8-byte header length" % (path, file_bytes))
            (header_length,) = struct.unpack("<Q", f.read(8))
            if header_length > min(_MAX_HEADER_BYTES, file_bytes - 8):
                raise SafetensorsError(
                    "%s: header length %d exceeds the file (%d bytes) or the %d-byte limit"
                    % (path, header_length, file_bytes, _MAX_HEADER_BYTES)
                )
            header_bytes = f.read(header_length)
            buffer_bytes = file_bytes - 8 - header_length
            entries, metadata = _parse_header(path, header_bytes, buffer_bytes)
            data = np.fromfile(f, dtype=np.uint8, count=buffer_bytes)
    except OSError as error:
        raise SafetensorsError("%s: cannot read (%s)" % (path, error.strerror or error))
    if data.size != buffer_bytes:
        raise SafetensorsError("%s: file shrank while reading" % path)

    tensors = {}
    for name, tag, shape, begin, end in entries:
        stored = _NUMPY_DTYPE[tag]
        array = data[begin:end].view(stored).reshape(shape)
        tensors[name] = (tag, array.astype(stored.newbyteorder("="), copy=True))
    return tensors, metadata


def load(path):
    """Reads `path`. Returns {name: numpy array} (BF16 as uint16 bits; use load_with_dtypes to tell)."""
    tensors, _ = load_with_dtypes(path)
    return {name: array for name, (_, array) in tensors.items()}


def _tag_and_array(name, value):
    """(tag, little-endian array) for a value given as an array or as (tag, array); never converts values."""
    if isinstance(value, tuple):
        tag, array = value
        array = np.asarray(array)
        if tag not in _NUMPY_DTYPE:
            raise SafetensorsError("tensor %r: unsupported dtype %r" % (name, tag))
    else:
        array = np.asarray(value)
        tag = _TAG_OF_NUMPY.get(array.dtype.newbyteorder("="))
        if tag is None:
            raise SafetensorsError(
                "tensor %r: numpy dtype %s has no safetensors tag (BF16: pass ('BF16', uint16 bits))"
                % (name, array.dtype)
            )
    stored = _NUMPY_DTYPE[tag]
    if array.dtype.newbyteorder("=") != stored.newbyteorder("="):
        raise SafetensorsError("tensor %r: a %s array cannot be stored as %s" % (name, array.dtype, tag))
    return tag, array.astype(stored, copy=False)


def save(path, tensors, metadata=None):
    """Writes {name: array or (tag, array)} to `path` atomically (largest element size first, then given order).

    `metadata` is an optional {str: str}. Raises SafetensorsError on an unsupported tensor; the target is
    untouched unless the whole file was written.
    """
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("%s: metadata must map strings to strings" % path)
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    converted = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError("%s: invalid tensor name %r" % (path, name))
        converted.append((name,) + _tag_and_array(name, value))
    converted.sort(key=lambda entry: -entry[2].dtype.itemsize)  # stable: ties keep the given order
    payloads = []
    position = 0
    for name, tag, array in converted:
        payload = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": tag, "shape": list(array.shape), "data_offsets": [position, position + len(payload)]}
        payloads.append(payload)
        position += len(payload)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)

    def write(f):
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for payload in payloads:
            f.write(payload)

    atomic_file.atomic_write(path, write, binary=True)


# ---- torch helpers (torch imported lazily so the numpy part works without it) ----

def load_torch(path):
    """Reads `path` into {name: CPU torch.Tensor}; BF16 becomes torch.bfloat16 bit-exactly."""
    import torch

    result = {}
    for name, (tag, array) in load_with_dtypes(path)[0].items():
        if tag == "BF16":
            result[name] = torch.from_numpy(array.view(np.int16)).view(torch.bfloat16)
        elif tag == "U64":
            raise SafetensorsError("%s: tensor %r is U64, which torch cannot hold" % (path, name))
        else:
            result[name] = torch.from_numpy(array)
    return result


def save_torch(path, tensors, metadata=None):
    """Writes {name: torch.Tensor} (any device) to `path` atomically; torch.bfloat16 is stored as BF16."""
    import torch

    tags = {
        torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
        torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
    }
    converted = {}
    for name, tensor in tensors.items():
        tag = tags.get(tensor.dtype)
        if tag is None:
            raise SafetensorsError("%s: tensor %r has unsupported dtype %s" % (path, name, tensor.dtype))
        host = tensor.detach().to("cpu").contiguous()
        if tag == "BF16":
            converted[name] = ("BF16", host.view(torch.int16).numpy().view(np.uint16))
        else:
            converted[name] = (tag, host.numpy())
    save(path, converted, metadata)
