"""release/ is generated: byte-identical on regeneration, with no solutions or hidden tests;
the student bundle carries nothing that reveals an answer."""

from __future__ import annotations

import pytest
from conftest import ROOT, assignments

from dlcourse.classroom.bundle import build_bundle, check_bundle
from dlcourse.classroom.release import build_release, check_release


@pytest.mark.parametrize("assignment", assignments())
def test_release_regenerates_byte_identical(assignment, tmp_path):
    """Both languages: the English notebook and, where source/<id>/ has a catalogue, release/<id>/pt_BR/."""
    build_release(ROOT, assignment, tmp_path / "release", db_url=f"sqlite:///{tmp_path / 'gb.db'}",
                  log=lambda line: None)
    fresh = sorted(p.relative_to(tmp_path / "release") for p in (tmp_path / "release").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "release") for p in (ROOT / "release" / assignment).rglob("*")
                       if p.is_file())
    assert fresh == committed, "release/ is stale: run `make release`"
    for rel in fresh:
        assert (tmp_path / "release" / rel).read_bytes() == (ROOT / "release" / rel).read_bytes(), (
            f"release/{rel} differs from a fresh regeneration: run `make release`")


@pytest.mark.parametrize("assignment", assignments())
def test_release_holds_only_the_notebook(assignment):
    """Nothing else of source/<id>/ (the authoring script holds the solutions, the .po catalogue the
    English text) is released; the Portuguese notebook is a supporting file in pt_BR/."""
    folder = ROOT / "release" / assignment
    found = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    translated = (ROOT / "source" / assignment / f"{assignment}.pt_BR.po").is_file()
    assert found == [f"{assignment}.ipynb"] + ([f"pt_BR/{assignment}.ipynb"] if translated else [])


@pytest.mark.parametrize("assignment", assignments())
def test_release_has_no_solutions_or_hidden_tests(assignment):
    assert check_release(ROOT / "release" / assignment) == []
    text = (ROOT / "release" / assignment / f"{assignment}.ipynb").read_text()
    assert "colab.research.google.com/github/" in text


def test_student_bundle_reveals_no_answer(tmp_path):
    out = build_bundle(ROOT, tmp_path / "bundle")
    assert check_bundle(out) == []
    assert not (out / "dlcourse" / "instructor").exists()
    assert not (out / "data" / "hidden").exists()
    assert not (out / "source").exists() and not (out / "tests").exists()
    assert (out / "release" / "01_softmax_cross_entropy" / "01_softmax_cross_entropy.ipynb").is_file()
    # the student package still imports without the instructor-only code
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", "import dlcourse.testing, dlcourse.data, dlcourse.env, "
                          "dlcourse.gradcheck, dlcourse.plotting; print('ok')"], cwd=out, capture_output=True,
                         text=True, env={"PYTHONPATH": str(out), "PATH": "/usr/bin:/bin"})
    assert run.stdout.strip() == "ok", run.stderr


@pytest.mark.parametrize("failure", ["nbgrader fails", "the release leaks"])
def test_a_failed_release_leaves_the_committed_one_untouched(tmp_path, monkeypatch, failure):
    from dlcourse.classroom import release as release_mod
    from dlcourse.course import CourseError

    a = assignments()[1]
    (tmp_path / "source" / a).mkdir(parents=True)
    (tmp_path / "release" / a).mkdir(parents=True)
    kept = tmp_path / "release" / a / f"{a}.ipynb"
    kept.write_bytes((ROOT / "release" / a / f"{a}.ipynb").read_bytes())

    def broken_generate(root, name, release_dir, db_url=None):
        (release_dir / name).mkdir(parents=True)
        (release_dir / name / f"{name}.ipynb").write_text("### BEGIN SOLUTION (half written)")
        if failure == "nbgrader fails":
            raise CourseError("nbgrader could not generate it")

    monkeypatch.setattr(release_mod, "generate", broken_generate)
    with pytest.raises(CourseError):
        release_mod.release(tmp_path, a)
    assert kept.read_bytes() == (ROOT / "release" / a / f"{a}.ipynb").read_bytes()
