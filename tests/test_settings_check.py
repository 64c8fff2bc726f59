"""A mistake in grader_config.py, or a command run outside a course, is one `dlcourse: error:` line
naming it, exit 2, before any work, and never a traceback (issue 29)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from dlcourse.classroom.demo import scratch_course
from dlcourse.cli import main

A = "01_softmax_cross_entropy"
GOOD = {
    "DEADLINES": '{"01_softmax_cross_entropy": "2026-03-20 23:59"}',
    "EXTENSIONS": '{"01_softmax_cross_entropy": {"s007": "48h"}}',
}


def _course(tmp_path: Path, **settings: str) -> Path:
    """A course whose grader_config.py ends with `NAME = value` lines (Python source)."""
    course = scratch_course(ROOT, tmp_path / "course", [A], release=False)
    (course / "submitted" / "s007" / A).mkdir(parents=True)
    extra = "".join(f"{name} = {value}\n" for name, value in settings.items())
    config = course / "grader_config.py"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return course


def _errors(capsys, course: Path, *argv: str) -> tuple[int, list[str]]:
    code = main(["--root", str(course), *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("dlcourse: error:")]


def test_a_sound_configuration_passes(tmp_path, capsys):
    from dlcourse.classroom.settings_check import problems
    from dlcourse.course import Course

    assert problems(Course.at(_course(tmp_path, **GOOD))) == []


@pytest.mark.parametrize("settings, named", [
    # the misspelt assignment once made a student's 20 % late penalty vanish
    ({"DEADLINES": '{"01_softmax_cross_entropi": "2026-03-20 23:59"}'},
     "DEADLINES: '01_softmax_cross_entropi' is not an assignment in source/ "
     "(did you mean '01_softmax_cross_entropy'?)"),
    ({"DEADLINES": '{"01_softmax_cross_entropy": "20/03/2026"}'}, "DEADLINES['01_softmax_cross_entropy']: not a date"),
    ({**GOOD, "EXTENSIONS": '{"01_softmax_cross_entropy": {"s070": "48h"}}'},
     "'s070' is neither in the roster nor in submitted/ (did you mean 's007'?)"),
    ({**GOOD, "EXTENSIONS": '{"01_softmax_cross_entropy": {"s007": "two days"}}'},
     "'two days' is neither a duration ('48h', '3d', '90m') nor a new due date"),
    ({"EXTENSIONS": '{"01_softmax_cross_entropy": {"s007": "48h"}}'},
     "DEADLINES gives '01_softmax_cross_entropy' none"),
    ({"LATE_POLICY": '{"kind": "percent", "percent": 10, "per_day": 1}'}, "LATE_POLICY: unknown keys ['per_day']"),
    ({"LATE_POLICY": '{"kind": "percentage"}'}, "LATE_POLICY: kind must be one of"),
    ({"TIMEZONE": '"Brasilia"'}, "TIMEZONE: 'Brasilia' is not a time zone"),
    ({"TIMEZONE": '"Europe/Lisboa"'}, "is not a time zone (did you mean 'Europe/Lisbon'?)"),
    ({"ROSTER": '"nowhere.csv"'}, "ROSTER:"),
    ({"DEADLINE": '{"01_softmax_cross_entropy": "2026-03-20 23:59"}'},
     "grader_config.py: DEADLINE is not a setting (did you mean 'DEADLINES'?)"),
])
def test_a_configuration_mistake_is_one_line_naming_it_and_nothing_is_done(tmp_path, capsys, settings, named):
    course = _course(tmp_path, **settings)
    code, errors = _errors(capsys, course, "release", A)
    assert code == 2
    assert len(errors) == 1 and named in errors[0], errors
    assert not (course / "release").exists()  # nothing was done


def test_autograde_checks_the_deadlines_before_grading_anyone(tmp_path, capsys):
    """Before: a malformed due date raised DeadlineError as a traceback in the reports, after grading."""
    course = _course(tmp_path, DEADLINES='{"01_softmax_cross_entropy": "tomorrow"}')
    code, errors = _errors(capsys, course, "autograde", A)
    assert code == 2 and "not a date and time: 'tomorrow'" in errors[0]
    assert not (course / "autograded" / "s007").exists() and not (course / "gradebook.db").exists()


def test_a_command_outside_a_course_refuses(tmp_path):
    """Before: it quietly used the package's own repository (config.find_root, course.load_root)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv in (["release"], ["--root", str(tmp_path), "autograde"]):
        run = subprocess.run([sys.executable, "-m", "dlcourse.cli", *argv], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith("dlcourse: error: no grader_config.py in") and "Traceback" not in run.stderr
        assert list(tmp_path.iterdir()) == []


def test_a_feedback_pack_without_a_roster_or_anyone_to_pack_says_why(tmp_path, capsys):
    course = _course(tmp_path)
    code, errors = _errors(capsys, course, "feedback", A, "--pack", "zip")
    assert code == 2 and "no feedback pages of 01_softmax_cross_entropy to pack" in errors[0]
    page = course / "feedback" / "s007" / A / f"{A}.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    (course / "autograded" / "s007" / A).mkdir(parents=True)
    before = page.stat().st_mtime_ns
    code, errors = _errors(capsys, course, "feedback", A, "--pack", "moodle")
    assert code == 2 and "needs the roster's LMS ids: pass --roster FILE" in errors[0]
    assert page.stat().st_mtime_ns == before and page.read_text() == "<html></html>"  # refused before any work
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,first_name,last_name,email\ns007,Ana,Lima,ana@uni.example\n")
    code, errors = _errors(capsys, course, "feedback", A, "--pack", "moodle", "--roster", str(roster))
    assert code == 2 and "no student could be packed (each needs a moodle_id in the roster)" in errors[0]
    assert not list((course / "feedback").glob("*.zip"))


def test_settings_follow_an_edit_of_grader_config(tmp_path):
    """Before: load_settings was cached for the life of the process (a running `dlcourse lab` never saw an edit)."""
    from dlcourse.config import load_settings

    course = _course(tmp_path)
    assert load_settings(course).cell_timeout != 17
    config = course / "grader_config.py"
    config.write_text(config.read_text(encoding="utf-8") + "CELL_TIMEOUT = 17\n", encoding="utf-8")
    assert load_settings(course).cell_timeout == 17


@pytest.mark.parametrize("argv, line", [
    # before: argparse's usage (every command on three lines) then "unrecognized arguments: --forcee"
    (["autograde", "--forcee"], "dlcourse autograde: error: unknown option '--forcee' (did you mean '--force'?); "
                                "see dlcourse autograde --help"),
    (["autograde", A, "--studnet", "s007"], "unknown option '--studnet' (did you mean '--student'?)"),
    (["feedbak"], "dlcourse: error: 'feedbak' is not a command (did you mean 'feedback'?); see dlcourse --help"),
    (["collect", A], "dlcourse collect: error: the following arguments are required: archive"),
    (["release", A, "extra"], "dlcourse release: error: unexpected argument: extra"),
    # before the command: argparse took "x" for the command ("invalid choice: 'x'")
    (["--roott", "x", "release"], "dlcourse: error: unknown option '--roott' (did you mean '--root'?)"),
])
def test_a_mistake_on_the_command_line_is_one_line_with_the_right_spelling(capsys, argv, line):
    """Issue 29, surprise 10: one line, the nearest right flag or command, exit 2, no usage wall."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and line in err and "usage:" not in err, err


def test_a_configuration_mistake_answers_without_importing_the_heavy_libraries(tmp_path):
    """Issue 29, surprise 16: a config error took 4-6 s (1 s of CPU: nbgrader, imported for its
    late-submission plugin and for alembic's PATH) before saying one line. Measured on a quiet
    machine: 0.9 s of CPU before, 0.08 s after."""
    course = _course(tmp_path, DEADLINE='{}')
    probe = ("import sys\nfrom dlcourse.cli import main\ncode = main(['release'])\n"
             "print(code, sorted(m for m in ('nbgrader', 'pandas', 'tensorflow', 'torch', 'nbconvert', 'sqlalchemy')"
             " if m in sys.modules))")
    for cwd, argv_note in ((course, "config mistake"), (tmp_path, "outside a course")):
        run = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert run.stdout.strip() == "2 []", (argv_note, run.stdout, run.stderr)


def test_the_demo_sets_its_schedule_through_the_validated_config(tmp_path):
    """Issue 29, item 3: the demo wrote its schedule into its grader_config.py as hand-formatted text,
    checked by nothing. Now `config.write_constants` takes known names and plain literals only, runs the
    check every command runs first, and leaves the file as it was when that check refuses."""
    import json

    from dlcourse.classroom.demo import DEMO_SETTINGS_MARK, demo_settings
    from dlcourse.config import load_settings, write_constants

    course = _course(tmp_path)
    config = course / "grader_config.py"
    (tmp_path / "roster.csv").write_text("student_id,first_name,last_name,email\ns007,Ana,Lima,a@x\n")
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps({"TIMEZONE": "UTC", "ROSTER": "roster.csv", "DEADLINES": {A: "2026-03-20 23:59"},
                                    "LATE_POLICY": {"kind": "percent", "percent": 10, "per": "day", "cap": 50}}))
    demo_settings(course, schedule)
    demo_settings(course, schedule)  # again: the block is replaced, not repeated
    assert config.read_text().count(DEMO_SETTINGS_MARK) == 1
    assert load_settings(course).schedule["DEADLINES"] == {A: "2026-03-20 23:59"}
    before = config.read_text()
    for values, said in (({"DEADLINES": {"01_softmax_cross_entropi": "2026-03-20 23:59"}}, "did you mean"),
                         ({"DEADLINE": {A: "2026-03-20 23:59"}}, "not settings of grader_config.py: DEADLINE"),
                         ({"DEADLINES": {A: "tomorrow"}}, "not a date"),
                         ({"ROSTER": tmp_path}, "not a plain literal")):
        with pytest.raises(ValueError, match=said):
            write_constants(course, values, DEMO_SETTINGS_MARK)
        assert config.read_text() == before


def test_python_dash_m_dlcourse_is_the_command(tmp_path):
    """Journey redo: `python -m dlcourse` works where the `dlcourse` script is not on PATH."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "dlcourse", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "new-exercise" in run.stdout, run.stderr
