"""Just enough ONNX protobuf to read a weight file's conv stack and write a small graph.

The inference path must not need the ``onnx`` package (a build/test dependency), yet the fast
path (``srcnn.fast``) reads the verified weight file and builds a new graph from it at load
time. The wire format is simple: (field << 3 | wire type) keys, varints, length-delimited
bytes. Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto,
AttributeProto, TensorProto, ValueInfoProto); the tests check the output with ``onnx.checker``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Graph", "read_conv_stack"]

_DTYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
           np.dtype(np.int32): 6, np.dtype(np.int64): 7}
_NP = {v: k for k, v in _DTYPES.items()}


# ---------------------------------------------------------------- writing
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(fn: int, wire: int) -> bytes:
    return _varint((fn << 3) | wire)


def _int(fn: int, v: int) -> bytes:
    return _key(fn, 0) + _varint(int(v))


def _len(fn: int, b: bytes | str) -> bytes:
    if isinstance(b, str):
        b = b.encode()
    return _key(fn, 2) + _varint(len(b)) + b


def _tensor(name: str, arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr)
    if arr.dtype not in _DTYPES:
        raise TypeError(f"unsupported tensor dtype {arr.dtype}")
    out = b"".join(_int(1, d) for d in arr.shape)
    return out + _int(2, _DTYPES[arr.dtype]) + _len(8, name) + _len(9, arr.astype(arr.dtype.newbyteorder("<")).tobytes())


def _attr(name: str, v) -> bytes:
    out = _len(1, name)
    if isinstance(v, float):
        return out + _key(2, 5) + struct.pack("<f", v) + _int(20, 1)
    if isinstance(v, (int, np.integer)):
        return out + _int(3, int(v)) + _int(20, 2)
    if isinstance(v, str):
        return out + _len(4, v) + _int(20, 3)
    if isinstance(v, (list, tuple)) and all(isinstance(i, (int, np.integer)) for i in v):
        return out + b"".join(_int(8, int(i)) for i in v) + _int(20, 7)
    raise TypeError(f"unsupported attribute {name}={v!r}")


def _value_info(name: str, elem: int, shape) -> bytes:
    dims = b"".join(_len(1, _len(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem) + _len(2, dims)
    return _len(1, name) + _len(2, _len(1, tensor_type))


@dataclass
class Graph:
    """A graph under construction: ``add`` nodes, ``const`` initialisers, then ``serialize``."""
    name: str = "srcnn"
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    stage: str = ""  # prefix of the names of nodes added next (profiling groups nodes by it)
    quantized: list = field(default_factory=list)  # uint8 tensors a saturation check reads
    _n: int = 0

    def const(self, arr, name: str | None = None) -> str:
        self._n += 1
        name = name or f"k{self._n}"
        self.inits.append(_tensor(name, np.asarray(arr)))
        return name

    def add(self, op: str, inputs, out: str | None = None, **attrs) -> str:
        self._n += 1
        pre = f"{self.stage}/" if self.stage else ""
        out = out or f"{pre}{op.lower()}{self._n}"
        node = b"".join(_len(1, i) for i in inputs) + _len(2, out) + _len(3, f"{pre}n{self._n}_{op}") + _len(4, op)
        node += b"".join(_len(5, _attr(k, v)) for k, v in attrs.items())
        self.nodes.append(node)
        return out

    def input(self, name: str, dtype, shape) -> str:
        self.inputs.append(_value_info(name, _DTYPES[np.dtype(dtype)], shape))
        return name

    def output(self, name: str, dtype, shape) -> None:
        self.outputs.append(_value_info(name, _DTYPES[np.dtype(dtype)], shape))

    def serialize(self, opset: int = 13) -> bytes:
        g = b"".join(_len(1, n) for n in self.nodes) + _len(2, self.name)
        g += b"".join(_len(5, t) for t in self.inits)
        g += b"".join(_len(11, v) for v in self.inputs) + b"".join(_len(12, v) for v in self.outputs)
        opset_id = _len(1, "") + _int(2, opset)
        return _int(1, 8) + _len(2, "srcnn.fast") + _len(7, g) + _len(8, opset_id)


# ---------------------------------------------------------------- reading
def _fields(buf: bytes):
    """Yield (field number, wire type, value) of one message; value is int or bytes."""
    i, n = 0, len(buf)
    while i < n:
        k, i = _read_varint(buf, i)
        fn, wire = k >> 3, k & 7
        if wire == 0:
            v, i = _read_varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            ln, i = _read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > n:
            raise ValueError("truncated protobuf message")
        yield fn, wire, v


def _read_varint(buf: bytes, i: int):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _read_ints(wire: int, v) -> list[int]:
    """A repeated int64 field's value: packed (wire type 2) or one varint."""
    if wire != 2:
        return [v]
    out, j = [], 0
    while j < len(v):
        d, j = _read_varint(v, j)
        out.append(d)
    return out


def _read_tensor(buf: bytes):
    dims, dtype, name, raw, floats = [], None, "", None, []
    for fn, wire, v in _fields(buf):
        if fn == 1:
            dims += _read_ints(wire, v)
        elif fn == 2:
            dtype = v
        elif fn == 8:
            name = v.decode()
        elif fn == 9:
            raw = v
        elif fn == 4:
            floats.append(np.frombuffer(v, "<f4"))  # packed or a single fixed32
    if dtype not in _NP:
        raise ValueError(f"tensor {name}: unsupported data type {dtype}")
    dt = _NP[dtype].newbyteorder("<")
    arr = np.frombuffer(raw, dt) if raw is not None else np.concatenate(floats).astype(dt) if floats else np.zeros(0, dt)
    return name, arr.astype(_NP[dtype]).reshape(dims)


def _read_node(buf: bytes):
    ins, outs, op, attrs = [], [], "", {}
    for fn, _, v in _fields(buf):
        if fn == 1:
            ins.append(v.decode())
        elif fn == 2:
            outs.append(v.decode())
        elif fn == 4:
            op = v.decode()
        elif fn == 5:
            an, ints, iv, sv = "", [], None, None
            for afn, awire, av in _fields(v):
                if afn == 1:
                    an = av.decode()
                elif afn == 3:
                    iv = av
                elif afn == 4:
                    sv = av.decode()
                elif afn == 8:
                    ints += _read_ints(awire, av)
            ints = [d - (1 << 64) if d >= 1 << 63 else d for d in ints]
            attrs[an] = ints if ints else (iv if iv is not None else sv)
    return op, ins, outs, attrs


def read_conv_stack(data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    """A weight file (bytes) -> [(weight (out, in, k, k), bias (out,))], float32.

    Accepts what ``srcnn.export.conv_stack_graph`` writes: a chain of stride-1, unpadded,
    undilated, ungrouped Conv nodes with a Relu between consecutive ones; anything else raises
    ``ValueError`` (the caller then keeps the reference path).
    """
    graph = None
    for fn, _, v in _fields(data):
        if fn == 7:
            graph = v
    if graph is None:
        raise ValueError("no graph in ONNX file")
    nodes, inits, first_input = [], {}, None
    for fn, _, v in _fields(graph):
        if fn == 1:
            nodes.append(_read_node(v))
        elif fn == 5:
            name, arr = _read_tensor(v)
            inits[name] = arr
        elif fn == 11 and first_input is None:
            first_input = next((iv.decode() for ifn, _, iv in _fields(v) if ifn == 1), None)
    layers, expect_conv, cur = [], True, first_input
    for op, ins, outs, attrs in nodes:
        if not ins or ins[0] != cur:
            raise ValueError(f"node {op} is not part of a plain chain")
        if op == "Conv" and expect_conv:
            if any(p != 0 for p in attrs.get("pads", [0])) or attrs.get("group", 1) != 1 or any(
                    s != 1 for k in ("strides", "dilations") for s in attrs.get(k, [1])) or \
                    attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
                raise ValueError("only stride-1 'valid' convolutions are supported")
            w = inits[ins[1]].astype(np.float32)
            b = inits[ins[2]].astype(np.float32) if len(ins) > 2 else np.zeros(w.shape[0], np.float32)
            if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] % 2 == 0:
                raise ValueError(f"kernels must be square and odd, got {w.shape}")
            layers.append((w, b))
            expect_conv = False
        elif op == "Relu" and not expect_conv:
            expect_conv = True
        else:
            raise ValueError(f"unexpected {op} node in a SRCNN weight file")
        cur = outs[0]
    if not layers or expect_conv:
        raise ValueError("the graph must end with a Conv")
    for (w0, _), (w1, _) in zip(layers, layers[1:]):
        if w1.shape[1] != w0.shape[0]:
            raise ValueError("channel counts of consecutive layers disagree")
    return layers
