"""Checks of public functions' arguments, shared by the package's modules.

Each returns the value as a plain Python number, or raises ``TypeError`` (wrong type) or
``ValueError`` (out of range) with a message that names the argument.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["finite_number", "positive_number", "whole_number"]

_NUMBERS = (int, float, np.integer, np.floating)


def finite_number(value: object, argument: str) -> float:
    """``value`` as a float: a real number (not a bool), finite."""
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value!r}")
    return float(value)


def positive_number(value: object, argument: str) -> float:
    """``value`` as a float: a finite real number above 0."""
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{argument} must be a positive finite number, got {value!r}")
    return float(value)


def whole_number(value: object, argument: str, minimum: int = 1) -> int:
    """``value`` as an int: an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{argument} must be at least {minimum}, got {value}")
    return int(value)
