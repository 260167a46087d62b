"""Ask a notebook's own functions for values: the only code of the grader's that runs in the
student's kernel.

The grader sends a request (JSON) naming a function of the notebook and the inputs to call it
on; :func:`run` calls it and answers with plain data (:mod:`softplus_course.wire`): what it
returned, or the exception it raised, and the warnings it gave. Nothing is judged here: the
grader compares the answers with references it computes itself, in its own process. Student
code may change anything in this module; all it can change is the answers, that is, the values
its own functions return.

The learner's visible checks call :func:`call_case` directly, in the learner's own kernel.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from .wire import decode, encode, rebuild

__all__ = ["MIME", "call_case", "run"]

MIME = "application/vnd.softplus.probe+json"
MESSAGE_LIMIT = 500  # characters of an exception's or a warning's text


def _text(value: Any) -> str:
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a student's __str__ may raise anything
        text = "<unprintable>"
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def call_case(case: dict, namespace: dict) -> dict:
    """Run one case against ``namespace`` (the notebook's variables); return plain data.

    ``case`` is ``{"call": name, "args": [...], "kwargs": {...}}`` (encoded values), or
    ``{"code": source, "inputs": {...}}`` for a few lines of code that set ``result``.
    """
    out: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Underflow to 0 is ordinary rounding, not a fault: it is never reported.
        with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            try:
                if "call" in case:
                    name = case["call"]
                    if name not in namespace:
                        raise NameError(f"name {name!r} is not defined")
                    args = [rebuild(decode(a)) for a in case.get("args", [])]
                    kwargs = {k: rebuild(decode(v)) for k, v in case.get("kwargs", {}).items()}
                    value = namespace[name](*args, **kwargs)
                else:
                    scope = dict(namespace)
                    scope.update({k: rebuild(decode(v)) for k, v in case["inputs"].items()})
                    exec(case["code"], scope)  # noqa: S102 - the grader's own driver code
                    value = scope.get("result")
                out["returned"] = encode(value)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, never judged here
                out["raised"] = {"type": _text(type(exc).__name__), "message": _text(exc)}
    out["warnings"] = [f"{w.category.__name__}: {_text(w.message)}" for w in caught[:5]]
    return out


def run(request_json: str) -> None:
    """Answer a grader's request: publish the results as one display output of type MIME."""
    from IPython import get_ipython
    from IPython.display import publish_display_data

    request = json.loads(request_json)
    namespace = get_ipython().user_ns
    results = [call_case(case, namespace) for case in request["cases"]]
    publish_display_data({MIME: {"results": results}})
