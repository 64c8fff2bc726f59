"""Instructor-only code: reference implementations for hidden tests and authoring tools.

This sub-package is left out of the student bundle (`dlcourse bundle`).
"""
