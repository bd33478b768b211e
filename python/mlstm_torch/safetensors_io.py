"""A minimal safetensors reader/writer (no `safetensors` package: the format is simple enough).

File layout: 8-byte little-endian header length N, N bytes of JSON header
({name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {str: str}}), then the raw
little-endian tensor bytes; offsets are relative to the end of the header.
"""
import json
import os
import struct
import tempfile

import torch

# safetensors dtype name -> (torch dtype, bytes per element)
DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
NAMES = {dt: name for name, (dt, _) in DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def read_safetensors(path):
    """-> (tensors: dict name -> torch.Tensor (a copy), metadata: dict str -> str)."""
    with open(path, "rb") as f:
        data = f.read()
    return decode_safetensors(data, path)


def decode_safetensors(data, path="safetensors data"):
    """The bytes of a safetensors file -> (tensors, metadata); errors name `path`."""
    if len(data) < 8:
        raise SafetensorsError(f"{path}: {len(data)} bytes, too short for a safetensors header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise SafetensorsError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n :]
    tensors = {}
    for name, entry in header.items():
        dtype_name = entry.get("dtype")
        if dtype_name not in DTYPES:
            raise SafetensorsError(f"{path}: tensor '{name}' has unsupported dtype {dtype_name!r}")
        dtype, size = DTYPES[dtype_name]
        shape = [int(s) for s in entry["shape"]]
        begin, end = (int(o) for o in entry["data_offsets"])
        count = 1
        for s in shape:
            count *= s
        if end - begin != count * size or begin < 0 or end > len(body):
            raise SafetensorsError(
                f"{path}: tensor '{name}' {dtype_name}{shape} has offsets [{begin}, {end}) that do not fit")
        raw = bytes(body[begin:end])
        if count == 0:
            t = torch.zeros(shape, dtype=dtype)
        else:
            # frombuffer reads native order; every platform torch runs on here is little-endian.
            t = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape).clone()
        tensors[name] = t
    return tensors, metadata


def encode_safetensors(tensors, metadata=None):
    """tensors: dict name -> torch.Tensor (written in its own dtype, in the dict's order) -> the file's bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in NAMES:
            raise SafetensorsError(f"write_safetensors: tensor '{name}' has unsupported dtype {t.dtype}")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # pad so the data starts 8-byte aligned, as the reference writer does
    return b"".join([struct.pack("<Q", len(h)), h, *blobs])


def write_safetensors(path, tensors, metadata=None, atomic=False):
    """Write `encode_safetensors(tensors, metadata)` to `path`; with `atomic`, through a temporary file in
    the same directory, fsync'd and renamed over `path`, so a reader (or a crash) never sees half a file."""
    data = encode_safetensors(tensors, metadata)
    if not atomic:
        with open(path, "wb") as f:
            f.write(data)
        return
    write_file_atomic(path, data)


def write_file_atomic(path, data):
    """Replace `path` by `data` atomically: a crash leaves the old file or the new one, never a mix."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would make the checkpoint unreadable to others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
