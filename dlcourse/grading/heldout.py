"""Scoring a student's trained model on data the student never sees.

A hidden test hands its trained model to `submit_model(model, task)`. Outside the
grader (an instructor running the source notebook, the fixture harness) the model is
scored at once. Inside the grader the kernel runs sandboxed without the hidden data
(`DLCOURSE_SANDBOX=1`): the model is only saved, and the grading worker, outside the
sandbox, scores the file in a separate clean process (Keras safe mode) and sets that
test cell's outcome itself, so nothing the student's code prints or patches counts.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REQUEST_PREFIX = "dlcourse-heldout-request:"


@dataclass(frozen=True)
class HeldoutTask:
    grade_id: str     # the test cell whose outcome the score decides
    threshold: float  # minimum accuracy
    scorer: str       # "module:function", called as function(model_path) -> accuracy
    filename: str     # the saved model's file name in the working directory


TASKS = {
    "lung": HeldoutTask("test_train_lung_cnn_heldout", 0.90,
                        "dlcourse.instructor.lung_scoring:score_model_file", "heldout_lung.keras"),
}


def _scorer(task: HeldoutTask):
    module, func = task.scorer.split(":")
    return getattr(importlib.import_module(module), func)


def verdict(task_name: str, accuracy: float | None, error: str = "") -> str:
    """'' when the score passes, else the failure message shown to the student."""
    task = TASKS[task_name]
    if accuracy is None:
        return f"HeldoutError: the model could not be scored on the held-out set: {error}"
    if accuracy < task.threshold:
        return (f"AssertionError: accuracy on the hidden held-out set is {accuracy:.3f}, want >= "
                f"{task.threshold:.2f}. Hint: check the preprocessing (scaling to [0, 1]), the labels "
                f"and the training; the model may be overfitting the training images.")
    return ""


def submit_model(model, task_name: str) -> float | None:
    """Save `model` for held-out scoring; score it now unless running inside the grader."""
    if task_name not in TASKS:
        raise KeyError(f"unknown held-out task {task_name!r}; known: {sorted(TASKS)}")
    task = TASKS[task_name]
    path = Path.cwd() / task.filename
    model.save(path)
    print(f"{REQUEST_PREFIX} {task_name} {path.name}")
    if os.environ.get("DLCOURSE_SANDBOX") == "1":
        return None
    accuracy = float(_scorer(task)(path))
    message = verdict(task_name, accuracy)
    if message:
        raise AssertionError(message.split(": ", 1)[1])
    print(f"held-out accuracy: {accuracy:.3f} (>= {task.threshold:.2f})")
    return accuracy


def score_in_subprocess(task_name: str, model_path: Path, timeout: int = 600) -> tuple[float | None, str]:
    """Score a saved model in a fresh interpreter; returns (accuracy or None, error)."""
    code = ("import json, sys; from dlcourse.grading.heldout import TASKS, _scorer; "
            f"print(json.dumps(float(_scorer(TASKS[{task_name!r}])(sys.argv[1]))))")
    env = {k: v for k, v in os.environ.items() if k != "DLCOURSE_SANDBOX"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if not model_path.is_file():
        return None, f"no saved model ({model_path.name}) was found"
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=str(model_path.parent))
    except subprocess.TimeoutExpired:
        return None, "scoring timed out"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return None, last[:300]
    try:
        return float(json.loads(proc.stdout.strip().splitlines()[-1])), ""
    except (ValueError, IndexError):
        return None, "the scorer printed no accuracy"
