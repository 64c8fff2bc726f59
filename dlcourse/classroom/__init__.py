"""The class workflow around the grading engine: release, collect from an LMS, deadlines and
the late policy, reports, feedback and packs, similarity, the student bundle, the demo."""

from .. import grader as _grader  # noqa: F401  (its import-time settings apply here too)
