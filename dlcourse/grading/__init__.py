"""Grading pipeline over nbgrader: release, autograde, feedback, validate, bundle."""
