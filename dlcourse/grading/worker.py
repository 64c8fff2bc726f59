"""Grade one submission in a scratch course directory (a subprocess or a Dask task).

The job carries everything it needs (the source notebooks, the submitted files, the
settings) so that it can run in a fresh process on this machine or on a Dask worker
elsewhere. nbgrader's real generate_assignment + autograde run against a scratch
gradebook; the result (each test cell's outcome and the autograded notebooks) goes
back to the parent, which alone writes the class gradebook.

    python -m dlcourse.grading.worker < job.json > result.json
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import nbformat

from ..config import REPO_ROOT, load_settings
from . import heldout, judge
from .execute import cell_results

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024


def pack_files(folder: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> dict[str, str]:
    """The files under `folder` as {relative path: base64}, skipping caches and links."""
    files: dict[str, str] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_symlink() or not path.is_file() or any(p.startswith(".") or p == "__pycache__"
                                                             for p in rel.parts):
            continue
        total += path.stat().st_size
        if total > max_bytes:
            raise ValueError(f"{folder} holds more than {max_bytes // 2**20} MB")
        files[str(rel)] = base64.b64encode(path.read_bytes()).decode()
    return files


def unpack_files(files: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = (folder / rel).resolve()
        if folder.resolve() not in target.parents:
            raise ValueError(f"refusing to write outside the scratch folder: {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))


def apply_heldout(nb: nbformat.NotebookNode, workdir: Path) -> None:
    """Decide held-out test cells from the saved model, scored outside the sandbox."""
    for name, task in heldout.TASKS.items():
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") != task.grade_id:
                continue
            accuracy, error = heldout.score_in_subprocess(name, workdir / task.filename)
            message = heldout.verdict(name, accuracy, error)
            kept = [o for o in cell.outputs if o.get("output_type") != "error"]
            if message:
                ename, evalue = message.split(": ", 1)
                kept.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
            else:
                kept.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"held-out accuracy (scored by the grader): {accuracy:.3f}\n"))
            cell.outputs = kept


def judge_outside(nb: nbformat.NotebookNode, source_path: Path, scratch: Path, notes: list[str]) -> None:
    """Decide the test cells of `nb` from its tapes, in the grader's judge (outside the sandbox)."""
    workdir = scratch / "judge"
    workdir.mkdir(exist_ok=True)
    try:
        verdicts = judge.judge_notebook(source_path, nb, workdir)
    except RuntimeError as err:
        notes.append(f"the grader could not judge this notebook: {err}")
        verdicts = []
    judge.apply_verdicts(nb, verdicts)


def grade(job: dict) -> dict:
    """Grade the job's submission; never raises (errors come back in the result)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from . import intake
    from .course import api  # imported here: nbgrader is heavy
    from .preprocessors import AddSentinels, check_sentinels
    from .sandbox import Limits, SandboxedExecute, sandbox_kernel

    started = time.time()
    assignment, student = job["assignment"], job["student"]
    result = {"assignment": assignment, "student": student, "ok": False, "error": "",
              "notebooks": {}, "seconds": 0.0}
    scratch = Path(tempfile.mkdtemp(prefix="dlcourse-grade-"))
    saved_env = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "DLCOURSE_SANDBOX")}
    notices: dict[str, list[str]] = {}
    try:
        unpack_files(job["source_files"], scratch / "source" / assignment)
        unpack_files(job["submission_files"], scratch / "submitted" / student / assignment)
        if job.get("timestamp"):
            (scratch / "submitted" / student / assignment / "timestamp.txt").write_text(job["timestamp"])
        db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        nb_api = api(scratch, db_url)
        nb_api.coursedir.root = str(scratch)
        if job.get("gradebook_template"):  # the assignment already registered by the parent
            (scratch / "gradebook.db").write_bytes(base64.b64decode(job["gradebook_template"]))
        else:
            generated = nb_api.generate_assignment(assignment, force=True, create=True)
            if not generated.get("success"):
                raise RuntimeError(f"generate_assignment failed: {generated.get('error') or generated.get('log')}")
        limits = Limits.from_dict(job.get("limits"))
        source_dir = scratch / "source" / assignment
        judged = {path.stem: judge.exercises(nb) for path in sorted(source_dir.glob("*.ipynb"))
                  if judge.is_judged(nb := nbformat.read(path, as_version=4))}
        expected_cells = intake.gradebook_cells(db_url, load_settings().course_id, assignment)
        notices = intake.normalize_submission(scratch / "source" / assignment,
                                              scratch / "submitted" / student / assignment, expected_cells)
        sandboxed = False
        if job.get("sandbox", True):
            course = Path(job.get("course_root") or REPO_ROOT)
            # the repository itself is reduced to dlcourse/ and data/ by sandbox_kernel
            hide = [course / "gradebook.db", course / "submitted", course / "autograded",
                    course / "feedback", course / "reports", course / "source", course / ".git",
                    course / "tests", course / "benchmarks", course / "data" / "hidden",
                    REPO_ROOT / "data" / "hidden"]
            if judged:  # the answers never enter the sandbox
                hide.append(REPO_ROOT / "dlcourse" / "instructor")
            sandboxed = sandbox_kernel(scratch, hide, limits)
        result["sandboxed"] = sandboxed
        os.environ["DLCOURSE_SANDBOX"] = "1" if sandboxed else "0"
        if sandboxed:  # Unix sockets: the kernel has no network to talk over
            nb_api.config.KernelManager.transport = "ipc"
            nb_api.config.KernelManager.connection_file = str(scratch / "runtime" / "kernel.json")
        nonce = secrets.token_hex(16)
        nb_api.config.AddSentinels.nonce = nonce
        nb_api.config.AddSentinels.record = judged
        nb_api.config.SandboxedExecute.judged = sorted(judged)
        nb_api.config.SandboxedExecute.nonce = nonce
        nb_api.config.SandboxedExecute.limits = limits.as_dict()
        nb_api.config.OverwriteCells.add_missing_cells = True
        defaults = Autograde.class_traits()["autograde_preprocessors"].default()
        nb_api.config.Autograde.autograde_preprocessors = [
            AddSentinels, *[SandboxedExecute if p is Execute else p for p in defaults]]
        incidents: dict[str, list[str]] = {}
        SandboxedExecute.report_to = incidents
        graded = nb_api.autograde(assignment, student, force=True, create=True)
        out_dir = scratch / "autograded" / student / assignment
        if not graded.get("success"):
            log = (graded.get("log") or "") + (graded.get("error") or "")
            result["error"] = _summarise_log(log)
        for path in sorted(out_dir.glob("*.ipynb")) if out_dir.is_dir() else []:
            nb = nbformat.read(path, as_version=4)
            check_sentinels(nb, nonce)
            if path.stem in judged:
                judge_outside(nb, source_dir / path.name, scratch, incidents.setdefault(path.stem, []))
            judge.strip_tapes(nb)
            apply_heldout(nb, out_dir)
            result["notebooks"][path.stem] = {
                "notebook": nbformat.writes(nb),
                "results": [r.__dict__ for r in cell_results(nb)],
                "notices": notices.get(path.stem, []) + incidents.get(path.stem, []),
            }
        result["notices"] = notices.get("", []) + [n for stem, found in notices.items()
                                                   if stem and stem not in result["notebooks"] for n in found]
        if not result["notebooks"]:
            result["error"] = ("; ".join(result["notices"]) or result["error"]
                               or "no notebook was graded (was the notebook renamed?)")
        result["ok"] = bool(result["notebooks"]) and not result["error"]
    except Exception as exc:  # a broken submission must not stop the class run
        result["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    finally:
        for key, value in saved_env.items():  # a pool process grades many jobs
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(scratch, ignore_errors=True)
        result["seconds"] = round(time.time() - started, 3)
    return result


def _summarise_log(log: str) -> str:
    lines = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    return "\n".join(lines[-8:]) or log[-2000:]


def main() -> int:
    """Read the job on stdin; write the result to the descriptor given by `--result-fd N`, else stdout.

    A separate descriptor keeps the result clean of anything a library or kernel prints.
    """
    job = json.load(sys.stdin)
    out = sys.stdout
    if len(sys.argv) == 3 and sys.argv[1] == "--result-fd":
        out = os.fdopen(int(sys.argv[2]), "w")
    os.dup2(2, 1)  # stray prints go to stderr
    result = grade(job)
    out.write(json.dumps(result))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
