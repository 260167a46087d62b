"""Set resource limits, then become bubblewrap: the first step of starting a sandboxed kernel.

Run as a script (``python -I -S sandbox_launch.py REQUEST``), standard library only, so that it
starts in a few milliseconds. REQUEST is JSON written by :mod:`softplus_course.pipeline.sandbox`:
``{"limits": {name: value}, "argv": [bwrap, option, ..., "--", command ...]}``. The limits hold
for bubblewrap and for everything started inside it.
"""

from __future__ import annotations

import json
import os
import resource
import sys

# Resource limits by name: the value is both the soft and the hard limit.
LIMITS = {
    "memory_bytes": resource.RLIMIT_DATA,
    "processes": resource.RLIMIT_NPROC,
    "file_bytes": resource.RLIMIT_FSIZE,
    "cpu_seconds": resource.RLIMIT_CPU,
    "open_files": resource.RLIMIT_NOFILE,
    "core_bytes": resource.RLIMIT_CORE,
}


def main(request_json: str) -> None:
    request = json.loads(request_json)
    for name, value in request["limits"].items():
        resource.setrlimit(LIMITS[name], (value, value))
    os.execv(request["argv"][0], request["argv"])


if __name__ == "__main__":
    main(sys.argv[1])
