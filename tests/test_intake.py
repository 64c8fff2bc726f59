"""Unit tests of the grader's intake (broken files) and sandbox settings, without a kernel."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from conftest import ROOT

from dlcourse.grader.intake import normalize_submission
from dlcourse.grader.sandbox import Limits

A = "01_softmax_cross_entropy"


@pytest.fixture
def folders(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / f"{A}.ipynb").write_bytes((ROOT / "source" / A / f"{A}.ipynb").read_bytes())
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    return source, submitted


def _release() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"\x00\x01binary", "binary data"),
    (b'{"cells": [', "not valid JSON (line 1"),
    (b'"just a string"', "not a Jupyter notebook"),
])
def test_unreadable_files_are_set_aside_with_the_reason(folders, data, message):
    source, submitted = folders
    (submitted / f"{A}.ipynb").write_bytes(data)
    notices = normalize_submission(source, submitted)
    assert any(message in n for n in notices[A]), notices
    assert not (submitted / f"{A}.ipynb").exists()  # nbgrader records the notebook as missing


def test_a_renamed_notebook_is_graded_under_its_name(folders):
    source, submitted = folders
    nbformat.write(_release(), submitted / f"{A} (1).ipynb")
    nbformat.write(_release(), submitted / "scratch-work.ipynb")
    notices = normalize_submission(source, submitted)
    assert (submitted / f"{A}.ipynb").is_file()
    assert any(f"{A} (1).ipynb" in n for n in notices[A])
    assert any("scratch-work.ipynb is not part of the assignment" in n for n in notices[""])


def test_a_missing_notebook_is_reported(folders):
    source, submitted = folders
    assert normalize_submission(source, submitted)[A] == [f"no notebook named {A}.ipynb was submitted"]


def test_repairs_keep_the_answers(folders):
    source, submitted = folders
    nb = _release()
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    answer.source = "def softmax(z):\n    return z  # ção\n"
    raw = json.loads(nbformat.writes(nb))
    raw["metadata"]["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    raw["cells"][1]["id"] = raw["cells"][0]["id"]  # duplicated ids
    (submitted / f"{A}.ipynb").write_bytes(json.dumps(raw, ensure_ascii=False).encode("latin-1", errors="replace"))
    notices = " | ".join(normalize_submission(source, submitted)[A])
    assert "not UTF-8" in notices and "kernel 'ir'" in notices and "duplicated cell ids" in notices
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    nbformat.validate(fixed)
    assert any("# ção" in c.source for c in fixed.cells)
    assert fixed.metadata.kernelspec.name == "python3"


def test_earlier_copies_of_a_graded_cell_become_plain_cells(folders):
    source, submitted = folders
    nb = _release()
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[index])))
    copy.id = "draft"
    nb.cells.insert(index, copy)
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = normalize_submission(source, submitted)
    assert any("appears 2 times" in n for n in notices[A])
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in fixed.cells]
    assert ids.count("softmax") == 1 and "nbgrader" not in fixed.cells[index].metadata


def test_limits_reject_unknown_settings():
    assert Limits.from_dict({"memory_mb": 1000}).memory_mb == 1000
    with pytest.raises(ValueError, match="memory_gb"):
        Limits.from_dict({"memory_gb": 1})


# -- hostile folders: links, special files, odd names, extra notebooks, stray metadata ----------

def _course_root(tmp_path):
    """A minimal course (config and source) that make_job can read."""
    root = tmp_path / "course"
    (root / "source" / A).mkdir(parents=True)
    (root / "grader_config.py").write_bytes((ROOT / "grader_config.py").read_bytes())
    (root / "source" / A / f"{A}.ipynb").write_bytes((ROOT / "source" / A / f"{A}.ipynb").read_bytes())
    return root


def test_scan_refuses_links_and_special_files_and_renames_odd_names(tmp_path):
    import base64
    import os

    from dlcourse.grader.worker import scan_folder

    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    sub = tmp_path / "sub"
    (sub / "folder").mkdir(parents=True)
    (sub / "notebook.ipynb").write_text("{}")
    (sub / "link.ipynb").symlink_to(secret)
    (sub / "folder-link").symlink_to(tmp_path)
    (sub / "folder" / "inner-link").symlink_to(secret)
    os.mkfifo(sub / "pipe")
    with open(os.path.join(os.fsencode(sub), b"notas-\xe7\xe3o.txt"), "wb") as f:
        f.write(b"x")
    files, notes = scan_folder(sub)
    assert set(files) == {"notebook.ipynb", "notas-__o.txt"}
    assert base64.b64decode(files["notebook.ipynb"]) == b"{}"
    said = " | ".join(notes)
    for name, kind in [("link.ipynb", "symbolic link"), ("folder-link", "symbolic link"),
                       ("folder/inner-link", "symbolic link"), ("pipe", "FIFO")]:
        assert f"'{name}' is {'a ' + kind}" in said, said
    assert "not valid UTF-8" in said
    assert b"answers" not in b"".join(base64.b64decode(v) for v in files.values())


def test_a_linked_submission_folder_is_refused_with_the_reason(tmp_path):
    from dlcourse.grader.autograde import make_job

    root = _course_root(tmp_path)
    classmate = root / "submitted" / "alice" / A
    classmate.mkdir(parents=True)
    nbformat.write(_release(), classmate / f"{A}.ipynb")
    (root / "submitted" / "mallory").symlink_to("alice")  # the student's folder is a link
    (root / "submitted" / "eve").mkdir()
    (root / "submitted" / "eve" / A).symlink_to(root / "source" / A)  # the assignment folder is a link
    for student in ("mallory", "eve"):
        job = make_job(root, A, student)
        assert "symbolic link" in job.refused and job.submission_files == {}, student
    job = make_job(root, A, "alice")
    assert not job.refused and f"{A}.ipynb" in job.submission_files


def test_a_refused_job_is_never_run():
    from dlcourse.grader.protocol import GradingJob
    from dlcourse.grader.worker import grade

    result = grade(GradingJob(A, "x", refused="submitted/x is a symbolic link, not a folder"))
    assert not result.ok and result.error == "submitted/x is a symbolic link, not a folder" and not result.notebooks


def test_unpack_never_writes_outside_or_through_a_link(tmp_path):
    import base64

    from dlcourse.grader.worker import unpack_files

    data = base64.b64encode(b"x").decode()
    for rel in ("../escape.txt", "/etc/passwd", "a/../../escape.txt"):
        with pytest.raises(ValueError):
            unpack_files({rel: data}, tmp_path / "dest")
    (tmp_path / "dest" / "linked").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="link"):
        unpack_files({"linked/escape.txt": data}, tmp_path / "dest")
    (tmp_path / "dest" / "file.txt").symlink_to(tmp_path / "target.txt")
    with pytest.raises(OSError):
        unpack_files({"file.txt": data}, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "target.txt").exists()


def test_extra_notebooks_are_set_aside_not_graded(folders):
    source, submitted = folders
    nbformat.write(_release(), submitted / f"{A}.ipynb")
    nbformat.write(_release(), submitted / "scratch work.ipynb")
    notices = normalize_submission(source, submitted)
    assert any("scratch work.ipynb is not part of the assignment" in n for n in notices[""])
    assert sorted(p.name for p in submitted.glob("*.ipynb")) == [f"{A}.ipynb"]  # nbgrader sees one notebook


def _expected_cells() -> dict[str, dict]:
    """What gradebook_cells() gives for the source notebook (read from its metadata)."""
    from dlcourse.grader.intake import _released

    source = nbformat.read(ROOT / "source" / A / f"{A}.ipynb", as_version=4)
    cells = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id"):
            cells[meta["grade_id"]] = {"cell_type": cell.cell_type, "locked": bool(meta.get("locked")),
                                       "solution": bool(meta.get("solution")), "grade": bool(meta.get("grade")),
                                       "points": meta.get("points"), "checksum": None,
                                       "released": _released(cell.source) if meta.get("locked") else None}
    return cells


def test_stray_grade_metadata_is_removed_and_the_gradebooks_is_put_back(folders):
    source, submitted = folders
    nb = _release()
    nb.cells.append(nbformat.v4.new_code_cell("assert True"))
    nb.cells[-1].metadata["nbgrader"] = {"grade": True, "grade_id": "my_test", "points": 5, "locked": False,
                                         "solution": False, "schema_version": 3}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            meta.update(grade=True, points=10)
        elif meta.get("grade"):
            meta["points"] = 100
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = " | ".join(normalize_submission(source, submitted, {A: _expected_cells()})[A])
    assert "grading metadata the assignment does not have (my_test)" in notices
    assert "the assignment's was put back" in notices
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    assert "nbgrader" not in fixed.cells[-1].metadata
    expected = _expected_cells()
    for cell in fixed.cells:
        meta = cell.metadata.get("nbgrader")
        if meta:
            info = expected[meta["grade_id"]]
            assert meta["grade"] == info["grade"] and meta["solution"] == info["solution"]
            assert meta.get("points") == (info["points"] if info["grade"] else None)


def _ids(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]


def test_missing_tests_come_back_after_their_neighbour_wherever_it_moved(folders):
    """An answer cell and its test deleted together (nbgrader's own repair raises KeyError), a
    question moved to the end with its test deleted: each test comes back, as released, after the
    cell before it in the assignment; the answers are only noted, never put back."""
    source, submitted = folders
    nb = _release()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in
                ("softmax", "test_softmax", "q_softmax_shift", "test_q_softmax_shift", "test_q_grad_shape")]
    moved = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q_grad_shape")
    nb.cells.remove(moved)
    nb.cells.append(moved)
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = " | ".join(normalize_submission(source, submitted, {A: _expected_cells()})[A])
    assert "2 answer cell(s) were deleted or missing from your notebook (softmax, q_softmax_shift)" in notices
    assert "3 test cell(s) were deleted or missing from your notebook " \
           "(test_softmax, test_q_softmax_shift, test_q_grad_shape); they were put back" in notices
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    ids = _ids(fixed)
    assert ids[:3] == ["test_softmax", "test_softmax_stability", "test_q_softmax_shift"]
    assert ids[-2:] == ["q_grad_shape", "test_q_grad_shape"]
    assert "softmax" not in ids and "q_softmax_shift" not in ids
    text = "\n".join(c.source for c in fixed.cells)
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text  # as released


def test_an_earlier_releases_retired_tests_are_dropped_and_the_current_set_up_runs(folders):
    source, submitted = folders
    nb = _release()
    setup = next(c for c in nb.cells if c.get("id") == "setup-2")
    setup.source = "import numpy as np  # an earlier release imported less"
    retired = nbformat.v4.new_code_cell("assert old_api()")
    retired.metadata["nbgrader"] = {"grade": True, "grade_id": "test_old_api", "points": 1, "locked": True,
                                    "solution": False, "schema_version": 3}
    nb.cells.append(retired)
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = " | ".join(normalize_submission(source, submitted, {A: _expected_cells()})[A])
    assert "1 test cell(s) are no longer part of the assignment (test_old_api); they were dropped" in notices
    assert "set-up cell(s) differ from the assignment's (an earlier release?) (setup-2)" in notices
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    assert not any("old_api" in c.source for c in fixed.cells)
    at = next(i for i, c in enumerate(fixed.cells) if c.get("id") == "setup-2")
    current = next(c for c in nbformat.read(source / f"{A}.ipynb", as_version=4).cells if c.get("id") == "setup-2")
    assert fixed.cells[at + 1].source == current.source  # the current imports, right after the student's


def test_cells_beyond_what_a_submission_may_add_are_dropped(folders):
    source, submitted = folders
    nb = _release()
    original = len(nb.cells)
    nb.cells += [nbformat.v4.new_code_cell(f"x = {i}") for i in range(50)]
    nbformat.write(nb, submitted / f"{A}.ipynb")
    notices = normalize_submission(source, submitted, {A: _expected_cells()}, max_added_cells=10)
    assert any("added more than 10 cells" in n and "40 extra cell(s) were dropped" in n for n in notices[A])
    fixed = nbformat.read(submitted / f"{A}.ipynb", as_version=4)
    assert len(fixed.cells) == original + 10
    graded = [c.metadata["nbgrader"]["grade_id"] for c in fixed.cells if "nbgrader" in c.metadata]
    assert set(graded) == set(_expected_cells())


# -- the kernel: isolated from its folder, limited in what it writes, outputs and time ----------

def _sandbox_kernelspec(tmp_path):
    """(scratch folder, kernelspec) of a sandboxed kernel made there; the environment is left as found."""
    from dlcourse.grader.sandbox import sandbox_kernel

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")}
    try:
        assert sandbox_kernel(scratch, [], Limits())
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return scratch, json.loads((scratch / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())


def test_the_kernel_starts_isolated_and_writes_nowhere_the_grader_writes(tmp_path):
    import shutil

    from dlcourse.grader.sandbox import ISOLATED_ENV, kernel_command

    assert kernel_command("c.json")[1:4] == ["-P", "-s", "-m"]
    assert ISOLATED_ENV["PYTHONSAFEPATH"] == "1" and ISOLATED_ENV["PYTHONNOUSERSITE"] == "1"
    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    scratch, spec = _sandbox_kernelspec(tmp_path)
    argv = spec["argv"]
    writable = {argv[i + 1] for i, a in enumerate(argv) if a == "--bind"}
    assert writable == {str(scratch / "work"), str(scratch / "home"), str(scratch / "runtime")}
    assert ["--ro-bind", str(scratch / "ipython"), str(scratch / "ipython")] == \
        argv[argv.index(str(scratch / "ipython")) - 1:argv.index(str(scratch / "ipython")) + 2]
    assert spec["env"]["IPYTHONDIR"] == str(scratch / "ipython") and spec["env"]["PYTHONSAFEPATH"] == "1"
    assert argv[argv.index("-m") - 2:argv.index("-m")] == ["-P", "-s"]


def test_a_sandboxed_kernel_starts_with_the_graders_font_list_and_keeps_it(tmp_path):
    """matplotlib in the kernel's empty home reads the list the grader built once (copied, the
    kernel's own): it neither scans the fonts again nor rewrites the list."""
    import shutil
    import subprocess
    import sys

    from dlcourse.grader.sandbox import font_list

    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    scratch, spec = _sandbox_kernelspec(tmp_path)
    mpl = scratch / "home" / "mpl"
    assert spec["env"]["MPLCONFIGDIR"] == str(mpl)
    (copy,) = mpl.glob("fontlist-*.json")
    assert copy.name == font_list().name and copy.read_bytes() == font_list().read_bytes()
    assert copy.stat().st_uid == (mpl.parent.stat().st_uid)  # the kernel's user's, like its home
    os.utime(copy, (0, 0))
    probe = "import matplotlib.pyplot as plt\nplt.title('x')\nplt.gcf().canvas.draw()\n"
    run = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ, MPLCONFIGDIR=str(mpl)),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert copy.stat().st_mtime == 0, "matplotlib rebuilt the font list in the kernel's home"


def test_a_font_list_that_vanished_costs_the_kernel_only_its_scan(tmp_path, monkeypatch):
    import shutil

    from dlcourse.grader import sandbox

    if not shutil.which("bwrap"):
        pytest.skip("bubblewrap is not installed")
    monkeypatch.setattr(sandbox, "font_list", lambda: tmp_path / "gone" / "fontlist-v1.json")
    scratch, spec = _sandbox_kernelspec(tmp_path)
    assert spec["argv"][0].endswith("bwrap") and list((scratch / "home" / "mpl").iterdir()) == []


def test_the_watchdog_stops_a_kernel_that_writes_too_much(tmp_path):
    import subprocess
    import sys

    from dlcourse.grader.sandbox import Watchdog, written

    for code, limits in [("open(f'big-{i}', 'wb').write(b'0' * 2**20)", Limits(disk_mb=8)),
                         ("open(f'small-{i}', 'w').close()", Limits(max_files=300))]:
        folder = tmp_path / str(limits.disk_mb)
        folder.mkdir()
        (folder / "link").symlink_to("/usr")  # counted as one entry, never followed
        proc = subprocess.Popen([sys.executable, "-c", f"import time\nfor i in range(100000):\n    {code}\n"
                                 "    time.sleep(0.002)\n"], cwd=folder)
        dog = Watchdog(proc.pid, limits, interval=0.05, disk=[folder], disk_interval=0.05)
        dog.start()
        try:
            assert proc.wait(timeout=60) != 0
        finally:
            proc.kill()
            dog.stop()
        assert dog.problem is not None and dog.problem.kind == "DiskLimit", dog.problem
        used, count = written([folder])
        assert used < 64 * 2**20 and count < 5000


def test_error_outputs_are_capped_like_any_output():
    from dlcourse.grader.sandbox import SandboxedExecute

    ex = SandboxedExecute()
    ex.reset_execution_trackers()
    ex.clear_before_next_output = False  # set by nbclient when a cell starts
    ex._output_limit, ex._cell_bytes, ex.incidents = 2**20, 0, []
    outs: list = []
    msg = {"msg_type": "error", "header": {"msg_type": "error"}, "parent_header": {}, "metadata": {},
           "content": {"ename": "RuntimeError", "evalue": "E" * 5_000_000, "traceback": ["E" * 5_000_000] * 3}}
    ex.output(outs, msg, None, 0)
    assert len(outs) == 1 and outs[0]["output_type"] == "error" and outs[0]["ename"] == "RuntimeError"
    assert len(json.dumps(outs[0])) < 200_000
    assert "cut by the grader" in outs[0]["evalue"] and any("output truncated" in str(i) for i in ex.incidents)


def test_the_whole_notebook_has_a_time_limit_and_extra_files_never_reach_the_kernel(tmp_path, monkeypatch):
    """A real (unsandboxed) kernel: it runs in an empty folder with Python's safe path, so a
    numpy.py beside the notebook is not imported; past the notebook's budget, cells stop."""
    import time

    from dlcourse.grader.protocol import read_incidents
    from dlcourse.grader.sandbox import SandboxedExecute, isolated_kernel

    scratch = tmp_path / "scratch"
    graded = scratch / "autograded" / "s" / A
    graded.mkdir(parents=True)
    (graded / "numpy.py").write_text("print('SHADOWED')\nraise SystemExit('shadowed numpy')\n")
    monkeypatch.setenv("JUPYTER_PATH", "")
    isolated_kernel(scratch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, sys, numpy\nprint(numpy.__file__, sorted(os.listdir('.')))\n"
                                          "open('numpy.py', 'w').write('raise SystemExit(1)')\nprint(sys.path[:2])"),
                *[nbformat.v4.new_code_cell("import time\ntime.sleep(1.5)") for _ in range(6)]]
    ex = SandboxedExecute(scratch=str(scratch), notebook_timeout=4, timeout=30, kernel_name="python3", nonce="n0")
    resources = {"nbgrader": {"notebook": A}, "metadata": {"path": str(graded)}}
    started = time.monotonic()
    ex.preprocess(nb, resources)
    took = time.monotonic() - started
    first = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "site-packages" in first and "SHADOWED" not in first and "[]" in first, first
    errors = [o for c in nb.cells[1:] for o in c.outputs if o.get("output_type") == "error"]
    assert any(o["ename"] in ("NotebookTimeout", "NotRun") for o in errors), errors
    assert any(i.kind == "NotebookTimeout" for i in read_incidents(nb, "n0"))  # in the notebook, under the nonce
    assert read_incidents(nb, "n0") == []  # read once: nothing of it stays in the graded notebook
    assert took < 4 + 25, took  # the budget, kernel start-up and shutdown, not 6 x 1.5 s of sleep more
    assert (scratch / "work" / A / "numpy.py").exists() and not (graded / "numpy.py").read_text().startswith("raise")


def test_a_job_has_a_time_limit_in_its_grading_process(tmp_path):
    """The runner stops a job past its limit by killing its grading process (and so its sandboxes)."""
    import time

    from dlcourse.grader.autograde import WorkerProcess
    from dlcourse.grader.protocol import GradingJob, Outcome

    worker = WorkerProcess()
    stuck = GradingJob(A, "s", source_files={f"{A}.ipynb": ""})
    worker.proc.send_signal(__import__("signal").SIGSTOP)  # a frozen process: it never answers
    started = time.monotonic()
    result = worker.grade(stuck, timeout=2)
    assert time.monotonic() - started < 30 and not worker.alive()
    assert not result.ok and "took longer than 2 s" in result.error and result.outcome is Outcome.SUBMISSION


def test_the_notebook_budget_is_the_documented_one():
    from dlcourse.config import load_settings

    settings = load_settings()
    if not os.environ.get("DLCOURSE_NOTEBOOK_TIMEOUT"):
        assert settings.notebook_timeout == 4 * settings.cell_timeout
    assert {"disk_mb", "max_files", "max_added_cells"} <= set(settings.sandbox)
    assert Limits.from_dict(settings.sandbox).disk_mb > 0


def test_files_are_copied_out_of_the_kernels_folder_only_when_plain(tmp_path):
    from dlcourse.grader.worker import copy_out

    kernel, grader = tmp_path / "kernel", tmp_path / "grader"
    kernel.mkdir()
    grader.mkdir()
    (tmp_path / "answers.ipynb").write_text("the instructor's answers")
    (kernel / "model.keras").write_bytes(b"weights")
    (kernel / "link.keras").symlink_to(tmp_path / "answers.ipynb")
    os.mkfifo(kernel / "pipe.keras")
    assert copy_out(kernel / "model.keras", grader / "model.keras")
    assert (grader / "model.keras").read_bytes() == b"weights"
    assert not copy_out(kernel / "link.keras", grader / "link.keras")
    assert not copy_out(kernel / "pipe.keras", grader / "pipe.keras")  # and it did not block
    (grader / "planted.keras").symlink_to(tmp_path / "answers.ipynb")  # a link at the destination is replaced
    assert copy_out(kernel / "model.keras", grader / "planted.keras")
    assert (tmp_path / "answers.ipynb").read_text() == "the instructor's answers"
    assert not (grader / "planted.keras").is_symlink()


def test_the_grader_never_writes_through_a_link_in_autograded(tmp_path):
    from dlcourse.grader.autograde import _own_dir, _write_own

    root = tmp_path / "course"
    (root / "autograded").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "gradebook.db").write_text("precious")
    (root / "autograded" / "mallory").symlink_to(victim)
    out = _own_dir(root, "autograded", "mallory", A)
    assert not (root / "autograded" / "mallory").is_symlink()
    (out / "marker.json").symlink_to(victim / "gradebook.db")
    _write_own(out / "marker.json", b"{}")
    assert (victim / "gradebook.db").read_text() == "precious" and (out / "marker.json").read_bytes() == b"{}"


def test_concurrent_graders_never_share_a_sandbox_uid():
    """Even when their pids fall on the same uid (pid % 4000), each grading process claims its own."""
    import subprocess
    import sys

    code = ("import os, sys, time; os.getpid = lambda: 4321\n"
            "from dlcourse.grader.sandbox import sandbox_uid\n"
            "print(sandbox_uid(), sandbox_uid(), flush=True); sys.stdin.read()")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    try:
        claimed = [p.stdout.readline().split() for p in procs]  # all three alive at once
    finally:
        for p in procs:
            p.communicate("")
    assert all(a == b for a, b in claimed), claimed  # stable within a process
    uids = [int(a) for a, _ in claimed]
    assert len(set(uids)) == 3 and all(61000 <= u < 65000 for u in uids), uids
