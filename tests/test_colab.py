"""Colab readiness, offline: every released notebook's badge opens the notebook itself in the
student repository of grader_config.py, and its set-up part, run as a dry run (tests/colab_driver.py)
with a simulated `google.colab`, installs exactly the course package from that repository and
fetches exactly the data files the notebook reads, from there; outside Colab it installs and
downloads nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from traitlets.config import Config

from dlcourse.classroom.bundle import build_bundle
from dlcourse.data import BUNDLED_SHA256

DRIVER = Path(__file__).resolve().parent / "colab_driver.py"
RELEASED = sorted(p.name for p in (ROOT / "release").iterdir() if (p / f"{p.name}.ipynb").is_file())
BADGE = re.compile(r"https://colab\.research\.google\.com/github/([^/\s]+/[^/\s]+)/blob/([^/\s]+)/([^\s)\"'>\]]+)")


def course_settings() -> dict:
    """STUDENT_REPO and STUDENT_BRANCH as grader_config.py sets them (read here, not through dlcourse)."""
    cfg = Config()
    ns = runpy.run_path(str(ROOT / "grader_config.py"), init_globals={"get_config": lambda: cfg})
    return {"repo": ns["STUDENT_REPO"], "branch": ns.get("STUDENT_BRANCH", "main")}


SETTINGS = course_settings()
PIP_TARGET = f"dlcourse @ git+https://github.com/{SETTINGS['repo']}@{SETTINGS['branch']}"


def raw_url(name: str) -> str:
    return f"https://raw.githubusercontent.com/{SETTINGS['repo']}/{SETTINGS['branch']}/data/{name}"


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> dict[str, Path | list[str]]:
    """The student bundle (what the student repository holds) as pip would install it in Colab:
    the package without the repository's data/ folder, which the package then downloads."""
    base = tmp_path_factory.mktemp("colab")
    bundle = build_bundle(ROOT, base / "bundle")
    served = sorted(p.name for p in (bundle / "data").iterdir() if p.is_file())
    shutil.rmtree(bundle / "data")
    fake = base / "fake"
    (fake / "google" / "colab").mkdir(parents=True)  # a namespace package beside protobuf's google/
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Google Colab\'s module."""\n')
    return {"bundle": bundle, "fake": fake, "served": served, "base": base}


def dry_run(notebook: Path, cwd: Path, out: Path, *args: str, pythonpath: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLCOURSE_DATA", "PYTHONPATH"))}
    env.update(MPLBACKEND="Agg", XDG_CACHE_HOME=str(out.parent / "cache"), TF_CPP_MIN_LOG_LEVEL="2")
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    run = subprocess.run([sys.executable, str(DRIVER), str(notebook), str(out), *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and out.is_file(), run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["error"] is None, f"the set-up part failed:\n{report['error']}"
    return report


@pytest.mark.parametrize("assignment", RELEASED)
def test_colab_badges_open_the_notebook_itself(assignment, student_repo):
    text = (ROOT / "release" / assignment / f"{assignment}.ipynb").read_text()
    links = BADGE.findall(text)
    assert links, "no Colab badge"
    for repo, branch, path in links:
        assert (repo, branch) == (SETTINGS["repo"], SETTINGS["branch"]), (
            f"the badge points at {repo}@{branch}, grader_config.py says {SETTINGS['repo']}@{SETTINGS['branch']}")
        assert path == f"release/{assignment}/{assignment}.ipynb", f"the badge opens {path}, not this notebook"
        assert (student_repo["bundle"] / path).is_file(), f"the student repository has no {path}"


@pytest.mark.parametrize("assignment", RELEASED)
def test_setup_installs_and_downloads_only_in_colab(assignment, student_repo, tmp_path):
    notebook = ROOT / "release" / assignment / f"{assignment}.ipynb"
    # Elsewhere (here: with the course repository's package and data): no install, no download.
    # The cells run in a scratch folder: some write files beside the notebook (07's images).
    here = tmp_path / "here"
    here.mkdir()
    local = dry_run(notebook, here, tmp_path / "local" / "report.json", "--watch", str(ROOT / "data"))
    assert not local["colab"]
    assert local["commands"] == [], f"outside Colab the set-up ran {local['commands']}"
    assert local["downloads"] == [] and local["connections"] == [], (local["downloads"], local["connections"])
    reads = sorted({Path(p).name for p in local["opened"]} & set(BUNDLED_SHA256))

    # In Colab: the package from the student repository, then exactly the data files it reads.
    content = tmp_path / "content"
    content.mkdir()
    colab = dry_run(notebook, content, tmp_path / "colab" / "report.json", "--colab", str(student_repo["fake"]),
                    "--data", str(ROOT / "data"), pythonpath=student_repo["bundle"])
    assert colab["colab"] and colab["cells_run"] == local["cells_run"]
    assert colab["package"].startswith(str(student_repo["bundle"])), "the dry run did not use the student package"
    assert len(colab["commands"]) == 1, f"expected one pip install, got {colab['commands']}"
    cmd = colab["commands"][0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"], f"not a pip install into the kernel: {cmd}"
    assert [a for a in cmd[4:] if not a.startswith("-")] == [PIP_TARGET], cmd
    assert set(a for a in cmd[4:] if a.startswith("-")) <= {"-q", "--quiet"}, (
        f"{cmd}: no --upgrade or other options that could replace Colab's own packages")
    fetched = sorted(d["fname"] for d in colab["downloads"])
    assert fetched == reads, f"Colab fetches {fetched}, the notebook reads {reads}"
    for d in colab["downloads"]:
        assert d["url"] == raw_url(d["fname"]), f"{d['url']} is not in the student repository {SETTINGS['repo']}"
        assert d["fname"] in student_repo["served"], f"the student repository does not serve data/{d['fname']}"
        digest = hashlib.sha256((ROOT / "data" / d["fname"]).read_bytes()).hexdigest()
        assert d["known_hash"] == f"sha256:{digest}"
    assert colab["connections"] == [], f"unexpected network access: {colab['connections']}"


def test_student_repository_installs_as_the_package_the_setup_cells_name(student_repo):
    """`pip install "dlcourse @ git+<student repo>"` builds the bundle's root: it must be the
    `dlcourse` project, and its requirements must leave Colab's TensorFlow and PyTorch alone."""
    bundle, report = student_repo["bundle"], student_repo["base"] / "pip-report.json"
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation",
                          "--no-index", "--quiet", "--report", str(report), str(bundle)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (item,) = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == PIP_TARGET.split(" @ ")[0]
    required = [r for r in item["metadata"].get("requires_dist", []) if "extra ==" not in r]
    assert required and not [r for r in required if "==" in r or r.startswith(("torch", "tensorflow", "keras"))]
