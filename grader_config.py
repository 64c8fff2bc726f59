"""nbgrader configuration of the course (loaded by nbgrader_config.py and by dlcourse).

The constants at the top are course settings read by `dlcourse.config`; the rest is
ordinary nbgrader/traitlets configuration.
"""

import os
from pathlib import Path

# Where the student bundle lives (the Colab badges and set-up cells point here).
STUDENT_REPO = "dl-course-br/deep-learning-course"
STUDENT_BRANCH = "main"
COURSE_ID = "deep-learning"
# Seconds one notebook cell may run while grading (training cells need more than
# nbgrader's default 30 s); the whole notebook gets CELL_TIMEOUT * 4.
CELL_TIMEOUT = int(os.environ.get("DLCOURSE_CELL_TIMEOUT", "600"))
# Seconds the notebook's cells may run in all while grading (replays after a kernel restart
# included): past it, the running cell is stopped and the remaining cells do not run
# (noted as NotebookTimeout). Every grading job is also stopped past its notebooks' budget
# plus CELL_TIMEOUT + 300 s, on every path (the process pool, subprocesses, Dask).
NOTEBOOK_TIMEOUT = int(os.environ.get("DLCOURSE_NOTEBOOK_TIMEOUT", "0")) or 4 * CELL_TIMEOUT
# Limits of the sandbox each grading kernel runs in (README, "Grading untrusted notebooks").
# A cell past CELL_TIMEOUT is interrupted; a kernel past a limit is stopped, restarted, and
# grading goes on after the culprit cell (at most max_restarts times per notebook).
SANDBOX = {
    "memory_mb": int(os.environ.get("DLCOURSE_MEMORY_MB", "6144")),  # resident memory, kernel + children
    "cpu_seconds": int(os.environ.get("DLCOURSE_CPU_SECONDS", "7200")),  # CPU time over the notebook
    "max_processes": 512,  # processes and threads of the kernel's user (bounds fork bombs)
    "output_mb": float(os.environ.get("DLCOURSE_OUTPUT_MB", "8")),  # output kept per cell
    # all the test cells' recordings for the judge (the arrays they check), per notebook, apart from output_mb
    "tape_mb": float(os.environ.get("DLCOURSE_TAPE_MB", "512")),
    "file_mb": int(os.environ.get("DLCOURSE_FILE_MB", "1024")),  # largest file written; size of /tmp
    # all the kernel writes in total (its folder, home and /tmp); past it the kernel is stopped
    "disk_mb": int(os.environ.get("DLCOURSE_DISK_MB", "2048")),
    "max_files": 20_000,  # files and folders it may create there, in total
    "max_added_cells": 300,  # cells a submission may add to the assignment's (the rest are dropped)
    "network": False,  # the kernel gets no network at all
    "max_restarts": 2,
}

# Deadlines, extensions and the late policy (dlcourse/classroom/deadlines.py). Due dates without an
# offset are read in TIMEZONE; an extension is a duration ("48h", "3d") or a new due date.
# LATE_POLICY kind: "none" | "percent" (percent off per started day/hour, at most cap) | "not_accepted".
TIMEZONE = "UTC"
DEADLINES = {}  # {"01_softmax_cross_entropy": "2026-03-20 23:59"}
EXTENSIONS = {}  # {"01_softmax_cross_entropy": {"s007": "48h"}}
LATE_POLICY = {"kind": "percent", "percent": 10, "per": "day", "cap": 50, "grace_minutes": 0}
ROSTER = None  # "roster.csv": student_id, first_name, last_name, email[, moodle_id, canvas_id, classroom_name]

c = get_config()  # noqa: F821  (injected by traitlets / dlcourse.config)

c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
# "*.py": source/<id>/<id>.py is the notebook's authoring script, with solutions and hidden tests
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.keras", "*.npz", "*.py", "*.po"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

c.Execute.timeout = CELL_TIMEOUT
c.Execute.interrupt_on_timeout = True
c.Execute.kernel_name = "python3"

# `nbgrader autograde` (and formgrader's Autograde button) would run the tests inside the student's
# kernel, unsandboxed and with no judge: refused here, pointing to `dlcourse autograde`, whose
# worker runs nbgrader's autograde with its own exporter and preprocessors over this file.
c.Autograde.exporter_class = "dlcourse.grader.preprocessors.RefuseInKernelGrading"
# a second guard, should the exporter be overridden: no Execute, a preprocessor that refuses in its place
c.Autograde.autograde_preprocessors = ["dlcourse.grader.preprocessors.RefuseInKernelExecution"]
# `nbgrader validate` (and any nbgrader Execute) starts no kernel here: it would run a submission
# unsandboxed; dlcourse's grading kernels set their own kernel manager over this
c.Execute.kernel_manager_class = "dlcourse.grader.preprocessors.RefuseUnsandboxedKernel"
# `nbgrader generate_feedback` (formgrader's Generate Feedback) would copy the hidden tests of autograded/
# into the students' pages: refused, pointing to `dlcourse feedback`
c.GenerateFeedback.exporter_class = "dlcourse.grader.preprocessors.RefuseNbgraderFeedback"
# `nbgrader export` (any exporter) refuses while the gradebook holds a row dlcourse did not write or wrote
# without the sandbox: the environment's guard does it (dlcourse/autograde_guard.py), no setting here

c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "dlcourse.grader.preprocessors.InsertCourseLinks",
    "dlcourse.classroom.deadlines.InsertLatePolicy",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# nbgrader's own late model: `dlcourse release` and `autograde` write the due dates and extensions into the
# gradebook (formgrader shows them) and nbgrader's AssignLatePenalties takes the penalty from this plugin
c.AssignLatePenalties.plugin_class = "dlcourse.classroom.deadlines.CourseLatePolicy"
c.CourseLatePolicy.policy = LATE_POLICY
