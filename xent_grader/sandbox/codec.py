"""Frames exchanged with the submission's process: a JSON header plus raw tensor bytes.

The grader never unpickles anything the submission's process wrote. A frame is

    u32 header length | header (UTF-8 JSON object) | tensor bytes, back to back

where ``header["tensors"]`` lists ``{"name", "dtype", "shape"}`` for each tensor in order. The
decoder checks every field and every size against caps before it allocates, and rebuilds each tensor
as a fresh, plain ``torch.Tensor`` that the reader owns.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import torch

HEADER_LENGTH = struct.Struct(">I")
MAX_HEADER_BYTES = 256 * 1024
MAX_DIMENSION = 1 << 40  # larger sizes overflow torch's int64 shapes even when another size is 0

# The only dtypes a frame may carry, by name, so that no type object ever crosses the channel.
DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
    "bool": torch.bool,
    "complex64": torch.complex64,
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class ProtocolError(Exception):
    """A frame that breaks the format or a size cap."""


@dataclass
class Frame:
    header: dict
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def dtype_name(dtype: torch.dtype) -> str | None:
    return DTYPE_NAMES.get(dtype)


def encode(header: dict, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    """Serialize a header and plain CPU tensors into one frame."""
    tensors = tensors or {}
    specs = []
    blobs = []
    for name, tensor in tensors.items():
        plain = torch.Tensor.contiguous(torch.Tensor.detach(tensor).cpu())
        specs.append({"name": name, "dtype": DTYPE_NAMES[plain.dtype], "shape": list(plain.shape)})
        blobs.append(plain.reshape(-1).view(torch.uint8).numpy().tobytes() if plain.numel() else b"")
    body = json.dumps({**header, "tensors": specs}).encode()
    return HEADER_LENGTH.pack(len(body)) + body + b"".join(blobs)


def _tensor_specs(header: dict, max_tensor_bytes: int) -> list[tuple[str, torch.dtype, list[int], int]]:
    specs = header.get("tensors", [])
    if not isinstance(specs, list) or len(specs) > 16:
        raise ProtocolError("the tensor list is missing or too long")
    parsed = []
    names = set()
    for spec in specs:
        if not isinstance(spec, dict):
            raise ProtocolError("a tensor entry is not an object")
        name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
        if not isinstance(name, str) or not isinstance(dtype, str) or dtype not in DTYPES or not isinstance(shape, list):
            raise ProtocolError(f"invalid tensor entry {str(spec)[:200]}")
        if name in names:
            raise ProtocolError(f"tensor {name[:100]!r} appears twice in one frame")
        names.add(name)
        if len(shape) > 8 or not all(type(size) is int and 0 <= size <= MAX_DIMENSION for size in shape):
            raise ProtocolError(f"invalid shape {str(shape)[:200]}")
        itemsize = torch.empty((), dtype=DTYPES[dtype]).element_size()
        nbytes = math.prod(shape) * itemsize
        if nbytes > max_tensor_bytes:
            raise ProtocolError(f"tensor {name!r} has {nbytes} bytes, over the cap of {max_tensor_bytes}")
        parsed.append((name, DTYPES[dtype], shape, nbytes))
    return parsed


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, take whole frames out.

    ``max_tensor_bytes`` caps each tensor and also all tensors of one frame together.
    """

    def __init__(self, max_tensor_bytes: int) -> None:
        self.max_tensor_bytes = max_tensor_bytes
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while (frame := self._next_frame()) is not None:
            frames.append(frame)
        return frames

    def _next_frame(self) -> Frame | None:
        if len(self.buffer) < HEADER_LENGTH.size:
            return None
        (header_length,) = HEADER_LENGTH.unpack_from(self.buffer)
        if header_length > MAX_HEADER_BYTES:
            raise ProtocolError(f"header of {header_length} bytes is over the cap of {MAX_HEADER_BYTES}")
        start = HEADER_LENGTH.size
        if len(self.buffer) < start + header_length:
            return None
        header = _parse_header(bytes(self.buffer[start : start + header_length]))
        specs = _tensor_specs(header, self.max_tensor_bytes)
        payload = sum(nbytes for *_, nbytes in specs)
        if payload > self.max_tensor_bytes:
            raise ProtocolError(f"frame carries {payload} bytes of tensors, over the cap of {self.max_tensor_bytes}")
        total = start + header_length + payload
        if len(self.buffer) < total:
            return None
        offset = start + header_length
        tensors = {}
        for name, dtype, shape, nbytes in specs:
            raw = bytearray(self.buffer[offset : offset + nbytes])
            offset += nbytes
            flat = torch.frombuffer(raw, dtype=dtype) if nbytes else torch.empty(0, dtype=dtype)
            tensors[name] = flat.reshape(shape)
        del self.buffer[:total]
        return Frame(header=header, tensors=tensors)


def _parse_header(raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ProtocolError(f"the header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("the header is not a JSON object")
    return header
