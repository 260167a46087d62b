"""Resource limits for grading kernels (applied through nbgrader_config.py).

Kept outside softplus_course.pipeline on purpose: every grading kernel imports it at start-up,
and the pipeline package would drag nbgrader and SQLAlchemy into each kernel.
"""

from __future__ import annotations

__all__ = ["limit_memory"]


def limit_memory(megabytes: int) -> bool:
    """Cap this process's data segment (heap and anonymous mappings) at ``megabytes`` MiB.

    Past the cap an allocation fails, which Python reports as ``MemoryError`` in the cell that
    asked for it. Returns True if the limit was applied, False where the platform has no such
    limit (Windows; macOS does not enforce it).
    """
    if not isinstance(megabytes, int) or isinstance(megabytes, bool) or megabytes <= 0:
        raise ValueError(f"megabytes must be a positive integer, got {megabytes!r}")
    try:
        import resource
    except ImportError:  # Windows
        return False
    limit = megabytes * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ValueError, OSError, AttributeError):
        return False
    return True
