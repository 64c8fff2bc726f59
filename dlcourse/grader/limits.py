"""What one grading kernel may use: `Limits`, read from grader_config.py's SANDBOX and checked
strictly (names, types, minimums), here in a module of its own so that the configuration check
(`dlcourse.classroom.settings_check`) can read it without importing nbgrader."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields

# the least each limit may be set to: a grading kernel (numpy, matplotlib, a small model) needs
# about 300 MB; 0 means "none" only where a count of extra things is meant
LIMIT_MINIMUMS = {"memory_mb": 512, "cpu_seconds": 10, "max_processes": 16, "output_mb": 0.1, "tape_mb": 1,
                  "file_mb": 1, "disk_mb": 1, "max_files": 1, "max_added_cells": 0, "max_restarts": 0}


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use (grader_config.py's SANDBOX overrides the defaults)."""

    memory_mb: int = 6144        # resident memory of the kernel and its children
    cpu_seconds: int = 7200      # CPU time of the kernel (all threads), over the whole notebook
    max_processes: int = 512     # processes and threads of the kernel's user
    output_mb: float = 8.0       # output kept per cell; the rest is dropped with a note
    tape_mb: float = 512.0       # all the test cells' recordings for the judge (dlcourse.judging), per notebook
    file_mb: int = 1024          # largest file the kernel may write
    disk_mb: int = 2048          # all the kernel writes, in total: its notebook folder, home and /tmp
    max_files: int = 20_000      # files and folders the kernel may create there, in total
    max_added_cells: int = 300   # cells a submission may add to the assignment's; the rest are dropped
    network: bool = False        # True gives the kernel the host's network
    max_restarts: int = 2        # fresh kernels after hangs and crashes, per notebook
    gpu: bool = False            # True binds one NVIDIA GPU (claimed by this grading process) and its driver

    def __post_init__(self):
        # strict: `"network": "false"` reads as True, `"memory_mb": "6144"` kills the watchdog (no limit
        # at all), and a limit no kernel can run under (`memory_mb: 6`, meant as GB) gives each student 0
        for f in fields(self):
            value, low = getattr(self, f.name), LIMIT_MINIMUMS.get(f.name)
            if f.type == "bool":
                if not isinstance(value, bool):  # `"gpu": 2` would read as True: one GPU per job, never more
                    extra = " (one GPU per grading job: True gives it one)" if f.name == "gpu" else ""
                    raise ValueError(f"SANDBOX[{f.name!r}] must be True or False, not {value!r}{extra}")
                continue
            kinds = (int, float) if f.type == "float" else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"SANDBOX[{f.name!r}] must be {'a number' if f.type == 'float' else 'a whole number'}"
                                 f", not {value!r}")
            if low is not None and not value >= low:
                raise ValueError(f"SANDBOX[{f.name!r}] must be at least {low} (no grading kernel runs under less), "
                                 f"not {value!r}")

    @classmethod
    def from_dict(cls, values: dict | None) -> Limits:
        if values is not None and not isinstance(values, dict):
            raise ValueError(f"SANDBOX is a dict of limits, not {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            near = {name: difflib.get_close_matches(str(name), sorted(known), n=1) for name in unknown}
            said = ", ".join(f"{name!r}" + (f" (did you mean {near[name][0]!r}?)" if near[name] else "")
                             for name in sorted(unknown, key=str))
            raise ValueError(f"SANDBOX: unknown setting(s) {said}; known: {', '.join(sorted(known))}")
        return cls(**(values or {}))

    def as_dict(self) -> dict:
        return asdict(self)
