"""Public helpers for test cells: stand-ins, spies and probes that contain no answer.

Everything here is in the student bundle and in the grading kernel. Each notebook that
needs its own helpers has a module here (one file per notebook).
"""
