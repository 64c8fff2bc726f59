"""The student's side of grade on submit: `dlcourse.submit()` in a notebook, `dlcourse submit NOTEBOOK`.

Only the standard library (urllib): it runs in Colab and in JupyterLab as it is.

- In Colab, the notebook's current content comes from Colab itself (`google.colab._message`'s
  "get_ipynb" request): nothing is downloaded or saved first.
- In JupyterLab, the notebook is saved first (the save command, then the file's change is awaited)
  and read from disk.

The server and the token come from the arguments, else $DLCOURSE_SERVER and $DLCOURSE_TOKEN.
While the submission is queued or grading, one progress line is rewritten; then the score and
each test's message are printed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

API = "/api/v1"
# JupyterLab's save: its command where the app is exposed, else the save shortcut (Accel+S) sent to
# the page; the classic notebook's own call
SAVE_JS = """
if (window.jupyterapp) { window.jupyterapp.commands.execute('docmanager:save'); }
else if (window.IPython && IPython.notebook) { IPython.notebook.save_checkpoint(); }
else {
  const target = document.activeElement || document.body;
  for (const mod of [{ctrlKey: true}, {metaKey: true}]) {
    target.dispatchEvent(new KeyboardEvent('keydown', {key: 's', code: 'KeyS', keyCode: 83, bubbles: true,
                                                       cancelable: true, ...mod}));
  }
}
"""


class SubmitError(RuntimeError):
    """The service refused the submission or could not be reached; the message says why."""


def _request(method: str, url: str, token: str, body: bytes | None = None) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            data = json.loads(exc.read() or b"{}")
        except ValueError:
            data = {}
        return exc.code, dict(exc.headers), data
    except (urllib.error.URLError, OSError) as exc:
        raise SubmitError(f"cannot reach the grading service at {url}: {exc}") from None


def colab_notebook() -> bytes | None:
    """The notebook's current content in Colab (None outside Colab)."""
    if "google.colab" not in sys.modules:
        return None
    from google.colab import _message  # type: ignore[import-not-found]

    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    if not reply or "ipynb" not in reply:
        raise SubmitError("Colab did not give the notebook's content: run the cell again")
    return json.dumps(reply["ipynb"]).encode()


def jupyter_notebook_path() -> Path | None:
    """The running notebook's file in JupyterLab (Jupyter Server tells its kernels: JPY_SESSION_NAME)."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name or not name.endswith(".ipynb"):
        return None
    for path in (Path(name), Path.cwd() / Path(name).name):  # absolute, or relative to the server's root
        if path.is_file():
            return path.resolve()
    return None


def save_in_jupyterlab(path: Path, wait: float = 10.0) -> bool:
    """Ask JupyterLab to save the notebook, and wait for the file to change (False: it did not)."""
    try:
        from IPython.display import Javascript, display
    except ImportError:
        return False
    before = path.stat().st_mtime_ns
    display(Javascript(SAVE_JS))
    end = time.time() + wait
    while time.time() < end:
        if path.stat().st_mtime_ns != before:
            time.sleep(0.3)  # the write's end
            return True
        time.sleep(0.2)
    return False


def notebook_content(notebook: str | Path | None) -> tuple[bytes, str]:
    """The notebook to hand in and its name: a file's, Colab's current one, or JupyterLab's saved one."""
    if notebook is not None:
        path = Path(notebook)
        return path.read_bytes(), path.stem
    data = colab_notebook()
    if data is not None:
        meta = json.loads(data).get("metadata", {})
        return data, Path(str((meta.get("colab") or {}).get("name") or "")).stem
    path = jupyter_notebook_path()
    if path is None:
        raise SubmitError("cannot tell which notebook this is: pass its path, dlcourse.submit('NAME.ipynb')")
    if not save_in_jupyterlab(path):
        print("dlcourse: could not confirm the save: the notebook as last saved is submitted (save with Ctrl+S "
              "and submit again if you changed it since)", file=sys.stderr)
    return path.read_bytes(), path.stem


def format_result(view: dict) -> str:
    res = view.get("result") or {}
    lines = []
    if view["status"] == "failed" or view.get("gradable") is False:
        lines.append("The grader failed on this submission (not your notebook's fault): it does not count. "
                     "Submit again later.")
    else:
        withheld = res.get("withheld_points") or 0
        if withheld and not res.get("max"):
            lines.append(f"Graded. Your score ({withheld:g} points of tests) is shown after the deadline; "
                         "the visible checks run in your notebook itself.")
        else:
            more = f" (and {withheld:g} points of hidden tests, shown after the deadline)" if withheld else ""
            lines.append(f"Score: {res.get('score', 0):g} / {res.get('max', 0):g}{more}")
    for t in res.get("tests", []) if res.get("max") else []:
        mark = "hidden" if t["passed"] is None else ("PASS" if t["passed"] else "FAIL")
        pts = "" if t["points"] is None else f" {t['points']:g}/{t['max_points']:g}"
        msg = (t.get("message") or "").strip().splitlines()
        lines.append(f"  [{mark}] {t['name']}{pts}" + (f": {msg[-1][:200]}" if msg and mark != "PASS" else ""))
    for note in res.get("notes", []):
        lines.append(f"  note: {note.splitlines()[0][:300] if note else ''}")
    return "\n".join(lines)


def submit(notebook: str | Path | None = None, assignment: str | None = None, server: str | None = None,
           token: str | None = None, wait: bool = True, poll: float = 1.0, timeout: float = 1800,
           out=None) -> dict:
    """Hand in a notebook and (with `wait`) print its progress, then its score and each test's message.
    Returns the submission as the service last described it."""
    out = out or sys.stdout
    server = (server or os.environ.get("DLCOURSE_SERVER", "")).rstrip("/")
    token = (token or os.environ.get("DLCOURSE_TOKEN", "")).strip()
    if not server or not token:
        raise SubmitError("set the server and your token: dlcourse.submit(server='https://...', token='...') "
                          "or $DLCOURSE_SERVER and $DLCOURSE_TOKEN")
    data, name = notebook_content(notebook)
    assignment = assignment or name
    status, headers, body = _request("POST", f"{server}{API}/assignments/{assignment}/submissions", token, data)
    if status == 429:
        raise SubmitError(f"too many submissions: {body.get('detail', '')} (Retry-After: "
                          f"{headers.get('Retry-After', '?')} s)")
    if status != 202:
        raise SubmitError(f"the server said {status}: {body.get('detail', body)}")
    sub_id = body["id"]
    print(f"submitted {assignment}: {sub_id}", file=out)
    if not wait:
        return body
    end, shown_line = time.time() + timeout, ""
    while True:
        status, _, view = _request("GET", f"{server}{API}/submissions/{sub_id}", token)
        if status != 200:
            raise SubmitError(f"the server said {status}: {view.get('detail', view)}")
        if view["status"] in ("graded", "failed"):
            print("\r" + " " * len(shown_line) + "\r", end="", file=out)
            print(format_result(view), file=out)
            return view
        line = (f"queued, position {view.get('position')}" if view["status"] == "queued"
                else f"grading (started {view.get('started')})")
        if line != shown_line:
            print("\r" + line.ljust(len(shown_line)), end="", file=out, flush=True)
            shown_line = line
        if time.time() > end:
            print(file=out)
            raise SubmitError(f"no result after {timeout:.0f} s: look again later with its id {sub_id}")
        time.sleep(poll)
