"""`make test-gpu`: the reference solutions and valid alternatives of every exercise that trains
or checks against PyTorch or Keras, run on a CUDA device (issue 33, item 1).

    python tests/gpu/run_gpu.py [--device cpu] [--only 04_keras_api:IrisNet,...] [--full] [--json OUT]

Made for a machine with PyTorch and CUDA but no TensorFlow, Jupyter or nbgrader (the device
machine): nothing here needs them. The notebooks are read from their percent-format scripts
(`source/<id>/<id>.py`, no nbformat), and for each exercise its set-up cells, every solution
cell (the reference, or a valid fixture in place of the exercise's) and the exercise's test
cells, visible and hidden, run as plain Python in a fresh namespace, one process per notebook:
the checks of `dlcourse.testing` raise when they fail, so no judge is needed (the checks run
in the process, as in an unjudged notebook). Keras runs on its torch backend
(KERAS_BACKEND=torch). An exercise whose cells import TensorFlow itself cannot run there: it is
listed as "needs TensorFlow", not failed. Test cells tagged slow (full-size training) run only
with --full.

Without a CUDA device it prints one line and exits 0 (`--device cpu` runs it on the CPU anyway:
that is how tests/test_gpu_runner.py checks the runner without a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE, FIXTURES = ROOT / "source", ROOT / "tests" / "fixtures"
NOTEBOOKS = ("03_optimization", "04_keras_api", "05_cnn", "06_rnn_lstm", "07_gan", "08_lung_cancer_project")
MARKER = re.compile(r"^# %%(?P<rest>.*)$")
FRAMEWORK = re.compile(r"\btorch\b|\bnn\.|\bkeras\b|\blayers\.|\bModel\(|\bSequential\(")
# the course's magic-free notebooks still hold a few IPython lines (`%matplotlib`, `!pip`)
IPYTHON_LINE = re.compile(r"^\s*[%!]")


def parse(path: Path) -> list[dict]:
    """The cells of a percent-format notebook script: kind, options, source (markdown left out)."""
    cells, current = [], None
    for line in path.read_text().splitlines():
        m = MARKER.match(line)
        if m:
            rest = m.group("rest").strip()
            if rest.startswith("[markdown]"):
                current = None
                continue
            words = rest.split()
            kind = words[0] if words and "=" not in words[0] else "code"
            current = {"kind": kind, "opts": dict(w.split("=", 1) for w in words if "=" in w), "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
    for cell in cells:
        cell["source"] = "\n".join(cell.pop("lines")).strip("\n")
    return [c for c in cells if c["kind"] != "written"]


def exercise_of(test_id: str, names: list[str]) -> str | None:
    if not test_id.startswith("test_"):
        return None
    rest = test_id[len("test_"):]
    matches = [n for n in names if rest == n or rest.startswith(n + "_")]
    return max(matches, key=len) if matches else None


def framework_exercises(cells: list[dict]) -> dict[str, list[dict]]:
    """{exercise: its test cells} for the exercises whose solution or tests use torch or Keras
    (concept questions q_* never do)."""
    names = [c["opts"]["id"] for c in cells if c["kind"] == "solution"]
    tests: dict[str, list[dict]] = {n: [] for n in names}
    for c in cells:
        if c["kind"] == "test":
            ex = exercise_of(c["opts"].get("id", ""), names)
            if ex:
                tests[ex].append(c)
    solution = {c["opts"]["id"]: c["source"] for c in cells if c["kind"] == "solution"}
    return {n: t for n, t in tests.items() if not n.startswith("q_") and
            FRAMEWORK.search(solution[n] + "\n".join(c["source"] for c in t))}


def fixtures(assignment: str, exercise: str, misconceptions: bool = False) -> list[tuple[str, str, str]]:
    """(name, expect, code) of the exercise's valid fixtures (and misconceptions when asked)."""
    out = []
    for path in sorted((FIXTURES / assignment).glob(f"{exercise}__*.py")):
        text = path.read_text()
        if re.search(r"^# exercise: (\S+)", text, re.M).group(1) != exercise:
            continue
        expect = "pass" if re.search(r"^# expect: pass\s*$", text, re.M) else "fail"
        if expect == "pass" or misconceptions:
            out.append((path.stem, expect, text))
    return out


def plain(source: str) -> str:
    return "\n".join("pass  # " + line if IPYTHON_LINE.match(line) else line for line in source.splitlines())


def run_cells(cells: list[tuple[str, str]], namespace: dict) -> tuple[str, str]:
    """Run (label, code) in order; ("pass", "") or ("fail"/"error", what happened)."""
    for label, code in cells:
        try:
            exec(compile(plain(code), f"<{label}>", "exec"), namespace)  # noqa: S102 (the course's own cells)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "tensorflow":
                return "needs TensorFlow", f"{label}: {exc}"
            return "error", f"{label}: {type(exc).__name__}: {exc}"
        except AssertionError as exc:
            return "fail", f"{label}: {exc}"
        except Exception as exc:  # noqa: BLE001 (reported, the next variant runs)
            tb = traceback.format_exc(limit=-3)
            return "error", f"{label}: {type(exc).__name__}: {exc}\n{tb}"
    return "pass", ""


def _reset() -> None:
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    if "dlcourse.judging" in sys.modules and hasattr(sys.modules["dlcourse.judging"], "forget"):
        sys.modules["dlcourse.judging"].forget()


def run_notebook(assignment: str, only: set[str], full: bool, misconceptions: bool = False) -> list[dict]:
    """In this process: every framework exercise of `assignment`, reference and valid fixtures."""
    import builtins

    builtins.display = lambda *a, **k: print(*a)  # IPython's, for cells that call it
    builtins.get_ipython = lambda: None
    cells = parse(SOURCE / assignment / f"{assignment}.py")
    results = []
    for exercise, tests in framework_exercises(cells).items():
        if only and f"{assignment}:{exercise}" not in only and assignment not in only:
            continue
        tests = [t for t in tests if full or "slow" not in t["opts"].get("tags", "")]
        for variant, expect, code in [("reference", "pass", None), *fixtures(assignment, exercise, misconceptions)]:
            harness = []
            for c in cells:  # notebook order: set-up, solutions, this exercise's tests
                if c["kind"] in ("setup", "params"):
                    harness.append((f"setup {c['opts'].get('id')}", c["source"]))
                elif c["kind"] == "solution":
                    name = c["opts"]["id"]
                    harness.append((f"solution {name}", code if (name == exercise and code) else c["source"]))
                elif c in tests:
                    harness.append((c["opts"]["id"], c["source"]))
            _reset()
            with tempfile.TemporaryDirectory(prefix="dlcourse-gpu-") as tmp:
                os.chdir(tmp)
                started = time.perf_counter()
                verdict, detail = run_cells(harness, {"__name__": "__main__"})
                os.chdir(ROOT)
            if expect == "fail":  # a misconception: it must fail a check (an error counts as caught too)
                if verdict in ("fail", "error"):
                    verdict = "caught"
                elif verdict == "pass":
                    verdict, detail = "fail", "a misconception fixture passed every check"
            results.append({"assignment": assignment, "exercise": exercise, "variant": variant, "verdict": verdict,
                            "seconds": round(time.perf_counter() - started, 2), "detail": detail[-2000:]})
            print(json.dumps(results[-1]), flush=True)
    return results


def cuda_line() -> str | None:
    try:
        import torch
    except ImportError:
        return "test-gpu: PyTorch is not installed: nothing run"
    if not torch.cuda.is_available():
        return "test-gpu: no CUDA device here: nothing run"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--only", default="", help="assignment or assignment:exercise, comma-separated")
    parser.add_argument("--full", action="store_true", help="the slow (full-size training) test cells too")
    parser.add_argument("--json", help="write every result here")
    parser.add_argument("--misconceptions", action="store_true",
                        help="the misconception fixtures too: each must fail a check (shown as caught)")
    parser.add_argument("--no-tensorflow", action="store_true",
                        help="hide TensorFlow even where it is installed (the device machine has none)")
    parser.add_argument("--notebook", help=argparse.SUPPRESS)  # the child: one notebook, in this process
    args = parser.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    if args.notebook:
        if args.no_tensorflow:
            sys.modules["tensorflow"] = None  # `import tensorflow` raises ModuleNotFoundError, as there
        run_notebook(args.notebook, only, args.full, args.misconceptions)
        return 0
    if args.device == "cuda":
        why = cuda_line()
        if why:
            print(why)
            return 0
    env = {**os.environ, "KERAS_BACKEND": "torch", "DLCOURSE_SMOKE": os.environ.get("DLCOURSE_SMOKE", "1"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    results = []
    for nb in NOTEBOOKS:
        if only and not any(o.split(":")[0] == nb for o in only):
            continue
        cmd = [sys.executable, str(Path(__file__).resolve()), "--notebook", nb, "--only", args.only]
        cmd += ["--full"] * args.full + ["--misconceptions"] * args.misconceptions
        cmd += ["--no-tensorflow"] * args.no_tensorflow
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{") and '"verdict"' in line:
                results.append(json.loads(line))
        if proc.returncode != 0:
            results.append({"assignment": nb, "exercise": "*", "variant": "*", "verdict": "error", "seconds": 0,
                            "detail": proc.stderr[-2000:]})
    width = max((len(f"{r['assignment']}:{r['exercise']} {r['variant']}") for r in results), default=10)
    for r in results:
        name = f"{r['assignment']}:{r['exercise']} {r['variant']}"
        print(f"{name:<{width}}  {r['verdict']:<16} {r['seconds']:>7.2f} s")
        if r["verdict"] in ("fail", "error"):
            print("    " + r["detail"].strip().replace("\n", "\n    "))
    bad = [r for r in results if r["verdict"] in ("fail", "error")]
    caught = sum(r["verdict"] == "caught" for r in results)
    tf = sorted({f"{r['assignment']}:{r['exercise']}" for r in results if r["verdict"] == "needs TensorFlow"})
    print(f"test-gpu ({args.device}): {len(results) - len(bad) - len(tf) - caught} passed, "
          f"{caught} misconceptions caught, {len(bad)} failed, "
          f"{len(tf)} need TensorFlow" + (f" ({', '.join(tf)})" if tf else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main())
