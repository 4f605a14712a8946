"""Frames of the result channel: round trips, and the decoder's rejection of malformed frames."""

from __future__ import annotations

import json

import pytest
import torch

from xent_grader.sandbox.codec import (
    DTYPES,
    HEADER_LENGTH,
    MAX_HEADER_BYTES,
    FrameDecoder,
    ProtocolError,
    encode,
)

TENSOR_CAP = 1 << 20


def raw_frame(header_bytes: bytes, body: bytes = b"") -> bytes:
    """Build a frame by hand, for headers that encode() never writes."""
    return HEADER_LENGTH.pack(len(header_bytes)) + header_bytes + body


def frame_with_specs(specs: list, body: bytes = b"") -> bytes:
    return raw_frame(json.dumps({"event": "result", "tensors": specs}).encode(), body)


def sample_tensor(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """Distinct, exactly representable values of ``dtype`` in ``shape``."""
    count = 1
    for size in shape:
        count *= size
    if dtype == torch.bool:
        return (torch.arange(count) % 3 == 0).reshape(shape)
    if dtype.is_complex:
        real = torch.arange(count, dtype=torch.float32) - 2
        return torch.complex(real, real * 0.5).reshape(shape)
    values = torch.arange(count) % 100
    if dtype.is_floating_point:
        return (values.to(dtype) - 50) / 4
    return values.to(dtype)


def decode_one(data: bytes) -> dict[str, torch.Tensor]:
    frames = FrameDecoder(TENSOR_CAP).feed(data)
    assert len(frames) == 1
    return frames[0].tensors


# Round trips

SHAPES = [(), (0,), (0, 3), (5,), (2, 3), (2, 1, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype_name", sorted(DTYPES))
def test_round_trip_keeps_values(dtype_name, shape):
    sent = sample_tensor(DTYPES[dtype_name], shape)

    received = decode_one(encode({"event": "result"}, {"value": sent}))["value"]

    assert received.dtype == sent.dtype
    assert received.shape == sent.shape
    assert torch.equal(received, sent)


@pytest.mark.parametrize("dtype_name", sorted(DTYPES))
def test_round_trip_gives_plain_tensor(dtype_name):
    sent = sample_tensor(DTYPES[dtype_name], (2, 3))

    received = decode_one(encode({}, {"value": sent}))["value"]

    assert type(received) is torch.Tensor
    assert received.is_contiguous()
    assert not received.requires_grad
    assert received.grad_fn is None


def test_round_trip_gives_fresh_storage():
    sent = torch.arange(6, dtype=torch.float64)

    received = decode_one(encode({}, {"value": sent}))["value"]
    received.add_(100)

    assert sent.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_decoded_tensors_do_not_share_memory():
    data = encode({}, {"first": torch.zeros(4), "second": torch.zeros(4)})

    tensors = decode_one(data)
    tensors["first"].fill_(7.0)

    assert tensors["second"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_round_trip_detaches_and_compacts():
    leaf = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True)
    transposed = (leaf * 2).t()

    received = decode_one(encode({}, {"value": transposed}))["value"]

    assert received.shape == (3, 2)
    assert torch.equal(received, transposed.detach())
    assert not received.requires_grad


def test_round_trip_keeps_header_and_order():
    header = {"event": "result", "id": 7, "note": "ünïcode"}
    tensors = {"b": torch.ones(2), "a": torch.zeros(3, dtype=torch.int64)}

    frames = FrameDecoder(TENSOR_CAP).feed(encode(header, tensors))

    assert len(frames) == 1
    assert frames[0].header["id"] == 7
    assert frames[0].header["note"] == "ünïcode"
    assert list(frames[0].tensors) == ["b", "a"]


def test_round_trip_without_tensors():
    frames = FrameDecoder(TENSOR_CAP).feed(encode({"event": "ready"}))

    assert len(frames) == 1
    assert frames[0].header["event"] == "ready"
    assert frames[0].tensors == {}


# Incremental feeding


def test_feed_byte_by_byte_yields_one_frame():
    data = encode({"event": "result", "id": 3}, {"value": torch.tensor([1.5, -2.0])})
    decoder = FrameDecoder(TENSOR_CAP)

    early = []
    for index in range(len(data) - 1):
        early += decoder.feed(data[index : index + 1])
    last = decoder.feed(data[-1:])

    assert early == []
    assert len(last) == 1
    assert last[0].header["id"] == 3
    assert last[0].tensors["value"].tolist() == [1.5, -2.0]
    assert decoder.feed(b"") == []


def test_feed_two_frames_in_one_chunk():
    first = encode({"id": 1}, {"value": torch.tensor([1.0])})
    second = encode({"id": 2}, {"value": torch.tensor([2.0, 3.0])})

    frames = FrameDecoder(TENSOR_CAP).feed(first + second)

    assert [frame.header["id"] for frame in frames] == [1, 2]
    assert frames[0].tensors["value"].tolist() == [1.0]
    assert frames[1].tensors["value"].tolist() == [2.0, 3.0]


def test_feed_keeps_partial_second_frame():
    first = encode({"id": 1})
    second = encode({"id": 2}, {"value": torch.tensor([4.0])})
    decoder = FrameDecoder(TENSOR_CAP)

    before = decoder.feed(first + second[:5])
    after = decoder.feed(second[5:])

    assert [frame.header["id"] for frame in before] == [1]
    assert [frame.header["id"] for frame in after] == [2]


# Header checks


def test_header_at_size_cap_accepted():
    # Pad a JSON object to exactly MAX_HEADER_BYTES bytes: '{"pad": ""}' is 11 bytes.
    header = json.dumps({"pad": "x" * (MAX_HEADER_BYTES - 11)}).encode()
    assert len(header) == MAX_HEADER_BYTES

    frames = FrameDecoder(TENSOR_CAP).feed(raw_frame(header))

    assert len(frames) == 1


def test_header_over_size_cap_rejected():
    # Only the length prefix arrives: the decoder must reject it before waiting for the header.
    prefix = HEADER_LENGTH.pack(MAX_HEADER_BYTES + 1)

    with pytest.raises(ProtocolError, match="header"):
        FrameDecoder(TENSOR_CAP).feed(prefix)


@pytest.mark.parametrize(
    "header",
    [b"not json", b"{", b"\xff\xfe", b'{"a": 1} trailing'],
    ids=["text", "truncated", "invalid-utf8", "trailing-data"],
)
def test_header_not_json_rejected(header):
    with pytest.raises(ProtocolError, match="not valid JSON"):
        FrameDecoder(TENSOR_CAP).feed(raw_frame(header))


@pytest.mark.parametrize("header", [b"[]", b"[1, 2]", b"3", b'"text"', b"null", b"true"])
def test_header_not_object_rejected(header):
    with pytest.raises(ProtocolError, match="not a JSON object"):
        FrameDecoder(TENSOR_CAP).feed(raw_frame(header))


def test_header_deep_nesting_rejected():
    header = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(ProtocolError):
        FrameDecoder(TENSOR_CAP).feed(raw_frame(header))


# Tensor entry checks


@pytest.mark.parametrize("dtype", ["float128", "object", "torch.float32", "Float32", "", None, 5])
def test_unknown_dtype_rejected(dtype):
    spec = {"name": "value", "dtype": dtype, "shape": [1]}

    with pytest.raises(ProtocolError, match="invalid tensor entry"):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs([spec]))


@pytest.mark.parametrize("dtype", [[], {"name": "float32"}], ids=["list", "object"])
def test_unhashable_dtype_rejected(dtype):
    spec = {"name": "value", "dtype": dtype, "shape": [1]}

    with pytest.raises(ProtocolError):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs([spec]))


@pytest.mark.parametrize(
    "shape",
    [[-1], [2, -3], [2.0], [True], ["3"], [None], [[2]], "3", None, [1] * 9],
    ids=[
        "negative", "negative-inner", "float", "bool", "string", "null", "nested", "not-a-list", "missing",
        "nine-dims",
    ],
)
def test_invalid_shape_rejected(shape):
    spec = {"name": "value", "dtype": "float32", "shape": shape}

    with pytest.raises(ProtocolError):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs([spec]))


def test_empty_shape_with_huge_size_rejected():
    spec = {"name": "value", "dtype": "float32", "shape": [0, 2**70]}

    with pytest.raises(ProtocolError):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs([spec]))


@pytest.mark.parametrize(
    "specs",
    [
        "value",
        [1],
        [{"dtype": "float32", "shape": [1]}],
        [{"name": 3, "dtype": "float32", "shape": [1]}],
        [{"name": f"t{index}", "dtype": "bool", "shape": [0]} for index in range(17)],
    ],
    ids=["not-a-list", "entry-not-object", "name-missing", "name-not-string", "seventeen-tensors"],
)
def test_invalid_tensor_list_rejected(specs):
    with pytest.raises(ProtocolError):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs(specs))


def test_tensor_at_byte_cap_accepted():
    # 125 float64 values are 125 * 8 = 1000 bytes.
    data = encode({}, {"value": torch.zeros(125, dtype=torch.float64)})

    frames = FrameDecoder(max_tensor_bytes=1000).feed(data)

    assert frames[0].tensors["value"].shape == (125,)


def test_tensor_over_byte_cap_rejected():
    # 126 float64 values are 1008 bytes, 8 over the cap.
    data = encode({}, {"value": torch.zeros(126, dtype=torch.float64)})

    with pytest.raises(ProtocolError, match="over the cap"):
        FrameDecoder(max_tensor_bytes=1000).feed(data)


def test_tensor_over_byte_cap_rejected_before_body():
    # 2**40 * 2**40 float32 values could never be allocated: the header alone must be rejected.
    spec = {"name": "value", "dtype": "float32", "shape": [2**40, 2**40]}

    with pytest.raises(ProtocolError, match="over the cap"):
        FrameDecoder(TENSOR_CAP).feed(frame_with_specs([spec]))
