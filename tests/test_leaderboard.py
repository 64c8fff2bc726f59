"""The capstone's leaderboard: held-out scores the grader recorded, ranked under pseudonyms."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT

from dlcourse.classroom.reports import leaderboard, pseudonym
from dlcourse.grader import heldout, judge, worker

A = "08_lung_cancer_project"
BONUS = heldout.TASKS["lung_bonus"]


def _test_cell(gid: str, score: dict | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("passed()", metadata={"nbgrader": {"grade": True, "grade_id": gid, "points": 2}})
    if score is not None:
        cell.metadata["dlcourse"] = {"heldout": score}
    return cell


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    (root / "grader_config.py").write_text((ROOT / "grader_config.py").read_text())
    from dlcourse.config import load_settings

    load_settings.cache_clear()
    yield root
    load_settings.cache_clear()


def _graded(root, student: str, *cells) -> None:
    folder = root / "autograded" / student / A
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=list(cells)), folder / f"{A}.ipynb")


def test_the_board_ranks_the_graders_scores_under_pseudonyms(course):
    _graded(course, "ana", _test_cell(BONUS.grade_id, {"task": "lung_bonus", "accuracy": 0.951}))
    _graded(course, "bruno", _test_cell(BONUS.grade_id, {"task": "lung_bonus", "accuracy": 0.972}))
    _graded(course, "carla", _test_cell(BONUS.grade_id, {"task": "lung_bonus", "accuracy": 0.951}))
    _graded(course, "dora", _test_cell(BONUS.grade_id, {"task": "lung_bonus", "accuracy": None}))  # not scored
    # a forged score on another cell, and the plain held-out test (which does not rank), are left out
    _graded(course, "eve", _test_cell("test_q_recall", {"task": "lung_bonus", "accuracy": 1.0}),
            _test_cell("test_train_lung_cnn_heldout", {"task": "lung", "accuracy": 0.99}))
    board = leaderboard(course, A)
    assert board["student"][0] == "bruno" and set(board["student"][1:]) == {"ana", "carla"}  # ties: by pseudonym
    assert list(board["rank"]) == [1, 2, 2] and list(board["accuracy"]) == [0.972, 0.951, 0.951]
    assert board["pseudonym"].str.fullmatch(r"player-[0-9a-f]{8}").all() and board["pseudonym"].is_unique


def test_a_pseudonym_needs_the_course_secret_which_nothing_students_get_holds(tmp_path):
    """sha256(course_id, student) could be recomputed by anyone from the roster: an HMAC under a
    secret made once per course cannot, and the secret is in neither release/ nor the bundle."""
    import hashlib

    from dlcourse.classroom.bundle import build_bundle
    from dlcourse.classroom.demo import scratch_course
    from dlcourse.classroom.reports import SECRET_FILE, course_secret

    course = scratch_course(ROOT, tmp_path / "course", [A])
    for name in ("dlcourse", "data", "pyproject.toml", "README.md"):
        (course / name).symlink_to(ROOT / name)
    secret = course_secret(course)
    assert course_secret(course) == secret and len(secret) == 32  # made once, then read back
    assert (course / SECRET_FILE).stat().st_mode & 0o077 == 0
    other = course_secret(tmp_path)
    assert other != secret  # another course, another secret
    name = pseudonym(secret, "ana")
    assert name == pseudonym(secret, "ana") != pseudonym(other, "ana")
    guesses = {"player-" + hashlib.sha256(f"{cid}\0ana".encode()).hexdigest()[:n]
               for cid in ("deep-learning", "", "ana") for n in (6, 8)}
    assert name not in guesses
    out = build_bundle(course, tmp_path / "bundle")
    files = [p for p in [*out.rglob("*"), *(course / "release").rglob("*")] if p.is_file()]
    assert not [p for p in files if p.name == SECRET_FILE or secret.hex().encode() in p.read_bytes()]


def test_the_grader_overwrites_whatever_score_the_submission_carried(tmp_path, monkeypatch):
    monkeypatch.setattr(heldout, "score_all", lambda models, cwd: {t: (0.912, "") for t in models})
    nb = nbformat.v4.new_notebook(cells=[_test_cell(BONUS.grade_id, {"task": "lung_bonus", "accuracy": 0.999})])
    worker.apply_heldout(nb, tmp_path)
    cell = nb.cells[0]
    assert cell.metadata["dlcourse"]["heldout"] == {"task": "lung_bonus", "accuracy": 0.912}
    want = f"want >= {BONUS.threshold:g}"
    assert any(o.get("output_type") == "error" and want in o.get("evalue", "") for o in cell.outputs)
    monkeypatch.setattr(heldout, "score_all", lambda models, cwd: {t: (None, "no saved model") for t in models})
    worker.apply_heldout(nb, tmp_path)
    assert cell.metadata["dlcourse"]["heldout"]["accuracy"] is None  # unscored: off the board


def test_one_scoring_process_scores_each_task_or_says_why_not(tmp_path):
    """The notebook's models are scored together, in one child of the grader's judge server: a good
    model gets its accuracy, a broken file its own error and a missing one "no saved model", each
    without touching the others'; a scoring that runs past its time limit costs its scores only,
    and the next scoring works."""
    import keras
    import numpy as np

    from dlcourse.instructor.lung_heldout import load

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((40, 40, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.save(tmp_path / "good.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    cwd = tmp_path / "scoring"
    cwd.mkdir()
    scores = heldout.score_all({"lung": tmp_path / "good.keras", "lung_bonus": tmp_path / "broken.keras"}, cwd)
    X, y = load()
    expected = float(np.mean(np.asarray(model.predict(X, verbose=0)).argmax(axis=1) == y))
    assert scores["lung"] == (pytest.approx(expected), "")
    assert scores["lung_bonus"][0] is None and scores["lung_bonus"][1]
    server = judge._SERVER[0]
    too_slow = judge.score_models({"lung": str(tmp_path / "good.keras")}, cwd, timeout=0.01)
    assert too_slow == {"lung": (None, "the scoring did not finish in 0 s")}
    again = heldout.score_all({"lung": tmp_path / "good.keras"}, cwd)
    assert again["lung"] == (pytest.approx(expected), "") and judge._SERVER[0] is server
    missing = heldout.score_all({"lung": tmp_path / "nowhere.keras"}, cwd)
    assert missing == {"lung": (None, "no saved model (nowhere.keras) was found")}


def test_a_hostile_model_file_costs_its_own_score_and_nothing_else(tmp_path):
    """Attacks through the saved model, each from a notebook that would score 0 on the held-out
    test: a Lambda layer carrying code (Keras's safe mode refuses it: the code never runs), and a
    configuration whose Dense layer needs 3 GB (the judge's memory limit stops it: without the
    limit it would build). Each costs its own score; the grader goes on."""
    import json
    import zipfile

    import keras

    marker = tmp_path / "pwned"
    payload = keras.layers.Lambda(lambda x, path=str(marker): (open(path, "w").write("x"), x)[1])  # noqa: SIM115
    keras.Sequential([keras.Input((40, 40, 3)), keras.layers.Flatten(), payload, keras.layers.Dense(2)]).save(
        tmp_path / "lambda.keras")
    marker.unlink()  # building the model above ran the lambda once, here in the test
    keras.Sequential([keras.Input((40, 40, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]).save(
        tmp_path / "small.keras")
    with zipfile.ZipFile(tmp_path / "small.keras") as small, zipfile.ZipFile(tmp_path / "huge.keras", "w") as huge:
        for name in small.namelist():
            data = small.read(name)
            if name == "config.json":
                config = json.loads(data)
                dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
                dense["config"]["units"] = 160_000  # 4,800 x 160,000 float32 weights: 3 GB
                data = json.dumps(config).encode()
            huge.writestr(name, data)
    cwd = tmp_path / "scoring"
    cwd.mkdir()
    server = judge._server_for(judge.HELDOUT_PRELOAD)
    scores = heldout.score_all({"lung": tmp_path / "lambda.keras", "lung_bonus": tmp_path / "huge.keras"}, cwd)
    assert scores["lung"][0] is None and "Lambda" in scores["lung"][1] and not marker.exists()
    assert scores["lung_bonus"][0] is None and any(w in scores["lung_bonus"][1] for w in ("OOM", "MemoryError"))
    assert judge._SERVER[0] is server and server.alive()  # the same server, never restarted
