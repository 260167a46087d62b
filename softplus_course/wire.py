"""Plain data between a student's kernel and the grader: numbers, arrays as bytes, strings.

Grading asks the student's kernel for the results of the graded functions on chosen inputs;
what comes back is JSON in the form written by :func:`encode` and read by :func:`decode`: never
pickle, never an object of the student's, bounded in size. :func:`decode` trusts nothing: a
reply that does not have exactly this form raises :class:`WireError`.

Forms (``t`` is the kind; ``cls`` the Python type's name, for messages):

- ``{"t": "none"}``, ``{"t": "bool", "v": true}``
- ``{"t": "int", "v": "123"}`` (digits as text), ``{"t": "float", "v": "1.5"}`` (``repr``:
  ``inf``, ``-inf``, ``nan`` included)
- ``{"t": "str", "v": "..."}``
- ``{"t": "list" | "tuple", "v": [...]}``, ``{"t": "dict", "v": [[key, value], ...]}``
- ``{"t": "ndarray" | "tensor" | "npscalar", "dtype": "float64", "shape": [..], "data":
  base64}``; a tensor also has ``"requires_grad"`` and ``"torch_dtype"``
- ``{"t": "other", "cls": "Name", "repr": "..."}``: anything else, described, never rebuilt
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Plain", "TensorInput", "WireError", "encode", "decode", "rebuild", "LIMITS"]

LIMITS = {
    "str": 2_000,  # characters of a string (longer ones are cut, and say so)
    "items": 10_000,  # elements of a list, tuple or dict
    "depth": 4,  # nesting of lists, tuples and dicts
    "array": 4_000_000,  # elements of an array
    "digits": 400,  # digits of an int
}
DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
}
KINDS = {"none", "bool", "int", "float", "str", "list", "tuple", "dict"}
KINDS |= {"ndarray", "tensor", "npscalar", "other"}


@dataclass(frozen=True)
class TensorInput:
    """An input that the kernel turns into a torch tensor (the grader never imports torch)."""

    array: Any
    dtype: str = "float64"
    requires_grad: bool = False


class WireError(ValueError):
    """A reply that is not plain data of the agreed form; the message says what is wrong."""


def _cut(text: str) -> str:
    limit = LIMITS["str"]
    return text if len(text) <= limit else text[: limit - 20] + f"... ({len(text)} characters)"


def _type_name(value: Any) -> str:
    try:
        return type(value).__qualname__
    except Exception:  # noqa: BLE001 - a type whose name cannot even be read
        return "?"


def _array(kind: str, arr: np.ndarray, cls: str) -> dict:
    if arr.dtype.name not in DTYPES:
        return {"t": "other", "cls": cls, "repr": f"array of dtype {arr.dtype}"}
    if arr.size > LIMITS["array"]:
        return {"t": "other", "cls": cls, "repr": f"array of {arr.size} elements (too large)"}
    data = np.ascontiguousarray(arr).tobytes()
    return {
        "t": kind,
        "cls": cls,
        "dtype": arr.dtype.name,
        "shape": [int(n) for n in arr.shape],
        "data": base64.b64encode(data).decode("ascii"),
    }


def encode(value: Any, depth: int = 0) -> dict:
    """Describe ``value`` as plain JSON data (inside the student's kernel, or for inputs)."""
    cls = _type_name(value)
    if isinstance(value, TensorInput):
        out = _array("tensor", np.asarray(value.array, dtype=np.float64), "Tensor")
        out.update(torch_dtype=value.dtype, requires_grad=value.requires_grad)
        return out
    if value is None:
        return {"t": "none", "cls": cls}
    if isinstance(value, (bool, np.bool_)) and not isinstance(value, np.ndarray):
        return {"t": "bool", "cls": cls, "v": bool(value)}
    if isinstance(value, np.generic) and not isinstance(value, np.bool_):
        return _array("npscalar", np.asarray(value), cls)
    if isinstance(value, int):
        text = str(int(value)) if abs(int(value)) < 10 ** LIMITS["digits"] else "0"
        return {"t": "int", "cls": cls, "v": text}
    if isinstance(value, float):
        return {"t": "float", "cls": cls, "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "cls": cls, "v": _cut(str(value))}
    if isinstance(value, np.ndarray):
        return _array("ndarray", value, cls)
    torch_kind = _tensor(value, cls)
    if torch_kind is not None:
        return torch_kind
    if isinstance(value, (list, tuple, dict)) and depth < LIMITS["depth"]:
        items = list(value.items()) if isinstance(value, dict) else list(value)
        if len(items) > LIMITS["items"]:
            return {"t": "other", "cls": cls, "repr": f"{cls} of {len(items)} items (too many)"}
        if isinstance(value, dict):
            pairs = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in items]
            return {"t": "dict", "cls": cls, "v": pairs}
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "cls": cls, "v": [encode(v, depth + 1) for v in items]}
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - the student's __repr__ may raise anything
        text = f"<{cls}: repr raised {_type_name(exc)}>"
    return {"t": "other", "cls": cls, "repr": _cut(str(text))}


def _tensor(value: Any, cls: str) -> dict | None:
    """A torch tensor as an array (only if torch is already imported: it is never loaded here)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return None
    t = value.detach().cpu()
    torch_dtype = str(t.dtype).removeprefix("torch.")
    if t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    try:
        arr = t.numpy()
    except Exception:  # noqa: BLE001 - complex, quantized, sparse ...
        return {"t": "other", "cls": cls, "repr": f"tensor of dtype {torch_dtype}"}
    out = _array("tensor", arr, cls)
    if out["t"] == "tensor":
        out["torch_dtype"] = torch_dtype
        out["requires_grad"] = bool(value.requires_grad)
    return out


@dataclass
class Plain:
    """One decoded value: its kind, the value itself, and the type it had in the kernel."""

    kind: str
    value: Any
    cls: str = ""
    extra: dict = field(default_factory=dict)  # tensors: torch_dtype, requires_grad

    def describe(self) -> str:
        """A short, readable text of the value, for feedback."""
        if self.kind in ("ndarray", "tensor"):
            with np.printoptions(precision=17, threshold=8, edgeitems=3):
                text = np.array2string(self.value, separator=", ")
            dtype = self.extra.get("torch_dtype", self.value.dtype.name)
            name = "tensor" if self.kind == "tensor" else "array"
            return _cut(f"{name}({text}, dtype={dtype})")
        if self.kind == "npscalar":
            return repr(self.value.item())
        if self.kind == "other":
            return _cut(f"{self.value} (a {self.cls})")
        if self.kind in ("list", "tuple", "dict"):
            return _cut(repr(to_python(self)))
        return _cut(repr(self.value))


def to_python(plain: Plain) -> Any:
    """Plain Python (and numpy) values, nested containers included."""
    if plain.kind in ("list", "tuple"):
        items = [to_python(p) for p in plain.value]
        return tuple(items) if plain.kind == "tuple" else items
    if plain.kind == "dict":
        return {_hashable(to_python(k)): to_python(v) for k, v in plain.value}
    return plain.value


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, tuple, type(None))) else repr(value)


def _need(condition: bool, what: str) -> None:
    if not condition:
        raise WireError(what)


def decode(obj: Any, depth: int = 0) -> Plain:
    """Read one encoded value, checking every field; raise :class:`WireError` if malformed."""
    _need(isinstance(obj, dict), "a value must be a JSON object")
    kind = obj.get("t")
    _need(kind in KINDS, f"unknown kind {str(kind)[:40]!r}")
    cls = obj.get("cls", "")
    _need(isinstance(cls, str) and len(cls) <= 200, "bad type name")
    if kind == "none":
        return Plain(kind, None, cls)
    if kind == "bool":
        _need(isinstance(obj.get("v"), bool), "bool without a true/false value")
        return Plain(kind, obj["v"], cls)
    if kind == "int":
        text = obj.get("v")
        _need(isinstance(text, str) and 0 < len(text) <= LIMITS["digits"], "bad int")
        _need(text.lstrip("-").isdigit() and text.isascii(), "bad int digits")
        return Plain(kind, int(text), cls)
    if kind == "float":
        text = obj.get("v")
        _need(isinstance(text, str) and len(text) <= 40, "bad float")
        try:
            value = float(text)
        except ValueError:
            raise WireError("bad float text") from None
        return Plain(kind, value, cls)
    if kind in ("str", "other"):
        text = obj.get("v" if kind == "str" else "repr")
        _need(isinstance(text, str) and len(text) <= LIMITS["str"] + 40, f"bad {kind} text")
        return Plain(kind, text, cls)
    if kind in ("list", "tuple", "dict"):
        _need(depth < LIMITS["depth"], "nested too deeply")
        items = obj.get("v")
        _need(isinstance(items, list) and len(items) <= LIMITS["items"], f"bad {kind}")
        if kind == "dict":
            _need(all(isinstance(p, list) and len(p) == 2 for p in items), "bad dict pair")
            pairs = [(decode(k, depth + 1), decode(v, depth + 1)) for k, v in items]
            return Plain(kind, pairs, cls)
        return Plain(kind, [decode(v, depth + 1) for v in items], cls)
    # arrays
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    _need(dtype in DTYPES, f"unsupported dtype {str(dtype)[:40]!r}")
    _need(isinstance(shape, list) and len(shape) <= 8, "bad shape")
    _need(all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape), "shape")
    size = math.prod(shape)
    _need(size <= LIMITS["array"], "array too large")
    _need(isinstance(data, str), "array data must be base64 text")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("array data is not base64") from None
    np_dtype = np.dtype(dtype)
    _need(len(raw) == size * np_dtype.itemsize, "array data does not match its shape")
    arr = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
    if kind == "npscalar":
        _need(shape == [], "a numpy scalar has shape []")
        return Plain(kind, arr[()], cls)
    extra = {}
    if kind == "tensor":
        torch_dtype, grad = obj.get("torch_dtype"), obj.get("requires_grad")
        _need(isinstance(torch_dtype, str) and len(torch_dtype) <= 20, "bad torch dtype")
        _need(isinstance(grad, bool), "bad requires_grad")
        extra = {"torch_dtype": torch_dtype, "requires_grad": grad}
    return Plain(kind, arr, cls, extra)


def rebuild(plain: Plain) -> Any:
    """Turn a decoded input back into the value to pass to a function (inside the kernel)."""
    if plain.kind in ("list", "tuple", "dict"):
        if plain.kind == "dict":
            return {rebuild(k): rebuild(v) for k, v in plain.value}
        items = [rebuild(p) for p in plain.value]
        return tuple(items) if plain.kind == "tuple" else items
    if plain.kind == "tensor":
        import torch

        t = torch.from_numpy(plain.value.copy())
        dtype = getattr(torch, plain.extra["torch_dtype"], None)
        if dtype is not None and t.dtype != dtype:
            t = t.to(dtype)
        return t.requires_grad_(plain.extra["requires_grad"])
    if plain.kind == "npscalar":
        return plain.value.dtype.type(plain.value)
    return plain.value
