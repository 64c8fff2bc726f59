"""nbgrader preprocessors of the course."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbconvert.exporters import NotebookExporter
from nbgrader.api import MissingEntry
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, NbGraderPreprocessor, OverwriteCells
from traitlets import Dict, Unicode

from ..autograde_guard import REFUSAL  # one text for every refusal of nbgrader's autograde
from ..config import load_settings
from .driver import kernel_copy
from .execute import is_test_cell


class InsertCourseLinks(NbGraderPreprocessor):
    """Fill `{{COLAB_URL}}` and `{{COURSE_PIP}}` from grader_config.py in the student version."""

    course_root = Unicode("", help="the course whose grader_config.py gives the links (set by "
                                   "dlcourse.course.nbgrader_config; empty: the working directory's)"
                          ).tag(config=True)

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        settings = load_settings(Path(self.course_root) if self.course_root else None)
        tokens = {"{{COLAB_URL}}": settings.colab_url(assignment), "{{COURSE_PIP}}": settings.pip_target}
        for cell in nb.cells:
            for token, value in tokens.items():
                if token in cell.source:
                    cell.source = cell.source.replace(token, value)
        return nb, resources


class OverwriteCellsQuietly(OverwriteCells):
    """nbgrader's OverwriteCells without its false alarm about hidden tests.

    For each locked cell nbgrader compares the submitted copy with the source, hidden tests
    included, so every test cell with hidden tests "has changed!" in every submission: a warning
    per test cell in each job's log, which reads as tampering. Here that warning is kept only
    when the submitted cell differs from what was released (the source with its hidden tests
    cleared): a student who edited a test. The cell is put back from the source either way."""

    def preprocess_cell(self, cell, resources, cell_index):
        self._as_released = self._is_as_released(cell)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new) -> None:
        if attr == "checksum" and getattr(self, "_as_released", False):
            return
        super().report_change(name, attr, old, new)

    def _is_as_released(self, cell) -> bool:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            return False
        try:
            source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
        except MissingEntry:
            return False
        released = copy.deepcopy(cell)
        released.source = source.source
        ClearHiddenTests(enforce_metadata=False).preprocess_cell(released, {}, 0)
        ClearMarkScheme(enforce_metadata=False)._remove_mark_scheme_region(released)  # a written question
        return released.source == cell.source


SENTINEL = "dlcourse-test-complete:"
FULL_SOURCE = "dlcourse_full_source"  # a test cell's own text while the kernel runs its driver (metadata)


class AddSentinels(NbGraderPreprocessor):
    """Append to each test cell a print of a per-run nonce, before execution.

    A test cell passes only if it ran to its last line: code that swallows exceptions
    (e.g. IPython's set_custom_exc) or kills the output cannot fake a pass.
    """

    nonce = Unicode("").tag(config=True)
    record = Dict({}, help="notebook name -> its exercise names, for the notebooks whose tests are judged "
                           "outside the kernel: their test cells only record (dlcourse.judging)").tag(config=True)
    drivers = Dict({}, help="notebook name -> what its hidden tests' drivers need from its source: "
                            "'known' (driver.known_names) and 'elsewhere' (driver.read_elsewhere, by grade_id)"
                   ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            from .judge import recording_preamble

            grade_id = cell.metadata["nbgrader"]["grade_id"]
            notebook = (resources.get("nbgrader") or {}).get("notebook", "")
            if notebook in self.record:  # the kernel gets the hidden tests' driver, never their checks
                cell.metadata[FULL_SOURCE] = cell.source  # put back after the run (check_sentinels)
                names = list(self.record[notebook])
                context = self.drivers.get(notebook, {})
                driver = kernel_copy(cell.source, names, context.get("known", ()),
                                     context.get("elsewhere", {}).get(grade_id, ()))
                cell.source = recording_preamble(grade_id, names) + driver
            cell.source += f"\nprint({SENTINEL!r}, {self.nonce!r}, {grade_id!r})"
        return cell, resources


def check_sentinels(nb, nonce: str) -> None:
    """Fail test cells that did not reach their sentinel; remove the sentinels from the notebook.

    Also turns a test cell's stderr (library warnings) into stdout: nbgrader would score it
    as a failure, while the course's rule is that only an error fails a test.
    """
    import nbformat

    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        meta = cell.metadata["nbgrader"]
        line = f"{SENTINEL} {nonce} {meta['grade_id']}"
        appended = f"\nprint({SENTINEL!r}, {nonce!r}, {meta['grade_id']!r})"
        if cell.source.endswith(appended):
            cell.source = cell.source[: -len(appended)]
        first, _, rest = cell.source.partition("\n")
        if first.endswith("# dlcourse: record"):
            cell.source = rest
        if FULL_SOURCE in cell.metadata:  # the test as the source has it, hidden tests included
            cell.source = cell.metadata.pop(FULL_SOURCE)
        reached = False
        for out in cell.outputs:
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                out["name"] = "stdout"  # nbgrader scores stderr as a failure: a warning must not cost points
            if out.get("output_type") == "stream" and line in out.get("text", ""):
                reached = True
                out["text"] = out["text"].replace(line + "\n", "").replace(line, "")
        cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and not o.get("text"))]
        has_error = any(o.get("output_type") == "error" for o in cell.outputs)
        if not reached and not has_error:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="IncompleteTest",
                evalue="the test cell did not run to its end (were its errors or output suppressed?)",
                traceback=[]))


class RefuseInKernelGrading(NotebookExporter):
    """The course's exporter for `nbgrader autograde` (grader_config.py): it refuses before nbgrader
    touches the submission, the gradebook or autograded/. dlcourse's worker runs nbgrader's
    autograde with nbconvert's own exporter, set over the course's configuration."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log.error(REFUSAL)
        raise NbGraderException(REFUSAL)


class RefuseInKernelExecution(NbGraderPreprocessor):
    """The second guard (grader_config.py puts it in place of nbgrader's Execute, as the only autograde
    preprocessor): `nbgrader autograde --Autograde.exporter_class=...` gets past the refusing exporter,
    but still runs no cell of the submission. The gradebook row nbgrader made for this run is taken out
    again when it holds no score (nbgrader removes autograded/<student>/<assignment> itself)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources.get("nbgrader", {})
        try:
            with Gradebook(info["db_url"]) as gb:
                submission = gb.find_submission(info["assignment"], info["student"])
                grades = [g for n in submission.notebooks for g in n.grades]
                if all(g.auto_score is None and g.manual_score is None for g in grades):
                    gb.remove_submission(info["assignment"], info["student"])
        except (KeyError, MissingEntry):
            pass
        coursedir = getattr(getattr(self.parent, "parent", None), "coursedir", None)  # the Autograde converter's
        if coursedir is not None and "student" in info:
            import shutil

            out = Path(coursedir.format_path(coursedir.autograded_directory, info["student"], info["assignment"]))
            if out.is_dir() and not (out / ".dlcourse-graded.json").exists():  # this run's copy, nothing of ours
                shutil.rmtree(out, ignore_errors=True)
                if out.parent.is_dir() and not any(out.parent.iterdir()):
                    out.parent.rmdir()
        self.log.error(REFUSAL)
        raise NbGraderException(REFUSAL)


FEEDBACK_REFUSAL = ("nbgrader's own generate_feedback (formgrader's Generate Feedback button too) is turned off\n"
                    "  in this course: it would copy the hidden tests of autograded/ into the students' pages.\n"
                    "  Make the pages with `dlcourse feedback` instead. Nothing was written.")


class RefuseNbgraderFeedback(NotebookExporter):
    """The course's exporter for `nbgrader generate_feedback` (grader_config.py): refuses before any
    page is written. `dlcourse feedback` renders its own pages, without hidden tests."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log.error(FEEDBACK_REFUSAL)
        raise NbGraderException(FEEDBACK_REFUSAL)


VALIDATE_REFUSAL = ("nbgrader runs no notebook in this course folder (`nbgrader validate` would run a\n"
                    "  submission unsandboxed, as you). Grade a submission with `dlcourse autograde --student\n"
                    "  <id>`; students check their own notebook with `dlcourse validate`.")


class RefuseUnsandboxedKernel(AsyncKernelManager):
    """The course's `Execute.kernel_manager_class` (grader_config.py): nbgrader's Execute, which
    `nbgrader validate` uses, starts no kernel in the course folder. dlcourse's grading kernels
    (`sandbox.SandboxedExecute`) set their own kernel manager over it."""

    def __init__(self, *args, **kwargs):
        logging.getLogger("traitlets").error(VALIDATE_REFUSAL)
        raise NbGraderException(VALIDATE_REFUSAL)
