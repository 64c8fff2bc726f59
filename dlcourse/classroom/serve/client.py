"""The student's side of grade on submit: `dlcourse.submit()` in a notebook, `dlcourse submit NOTEBOOK`.

Only the standard library (urllib) and dlcourse itself: it runs in Colab and in JupyterLab as it is.

- In Colab, the notebook's current content comes from Colab itself (`google.colab._message`'s
  "get_ipynb" request): nothing is downloaded or saved first.
- In JupyterLab, the notebook is saved first (the save command, then the file's change is awaited)
  and read from disk.

The server and the token come from the arguments, else $DLCOURSE_SERVER and $DLCOURSE_TOKEN.
While the submission is queued or grading, one progress line is rewritten; then the score and
each test's message are printed. All of it in the notebook's language (its metadata, as the feedback
pages): the client sends it (Accept-Language) and the service answers in it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ...i18n import SOURCE_LANGUAGE, current_language, notebook_language
from ...i18n import gettext as _

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


def _request(method: str, url: str, token: str, body: bytes | None = None,
             language: str = SOURCE_LANGUAGE) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                          "Accept-Language": "pt-BR" if language == "pt_BR" else "en"})
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
        raise SubmitError(_("cannot reach the grading service at {url}: {error}", language).format(
            url=url, error=exc)) from None


def colab_notebook() -> bytes | None:
    """The notebook's current content in Colab (None outside Colab)."""
    if "google.colab" not in sys.modules:
        return None
    from google.colab import _message  # type: ignore[import-not-found]

    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    if not reply or "ipynb" not in reply:
        raise SubmitError(_("Colab did not give the notebook's content: run the cell again", current_language()))
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
        raise SubmitError(_("cannot tell which notebook this is: pass its path, dlcourse.submit('NAME.ipynb')",
                            current_language()))
    if not save_in_jupyterlab(path):
        print("dlcourse: " + _("could not confirm the save: the notebook as last saved is submitted (save with "
                               "Ctrl+S and submit again if you changed it since)", current_language()),
              file=sys.stderr)
    return path.read_bytes(), path.stem


def _number(value: float, language: str) -> str:
    """A score as the language writes it: 2.5 or 2,5."""
    text = f"{value:g}"
    return text.replace(".", ",") if language == "pt_BR" else text


def format_result(view: dict, language: str = SOURCE_LANGUAGE) -> str:
    """The score and each test's line, in `language` (the tests' messages and the notes come from the
    service already in it)."""
    res = view.get("result") or {}
    lines = []
    if view["status"] == "failed" or view.get("gradable") is False:
        lines.append(_("The grader failed on this submission (not your notebook's fault): it does not count. "
                       "Submit again later.", language))
    else:
        withheld = res.get("withheld_points") or 0
        if withheld and not res.get("max"):
            lines.append(_("Graded. Your score ({points} points of tests) is shown after the deadline; "
                           "the visible checks run in your notebook itself.", language).format(
                points=_number(withheld, language)))
        else:
            more = (_(" (and {points} points of hidden tests, shown after the deadline)", language).format(
                points=_number(withheld, language)) if withheld else "")
            lines.append(_("Score: {score} / {total}", language).format(
                score=_number(res.get("score", 0), language), total=_number(res.get("max", 0), language)) + more)
    marks = {None: _("hidden", language), True: _("PASS", language), False: _("FAIL", language)}
    for t in res.get("tests", []) if res.get("max") else []:
        mark = marks[t["passed"]]
        pts = ("" if t["points"] is None else
               f" {_number(t['points'], language)}/{_number(t['max_points'], language)}")
        msg = (t.get("message") or "").strip().splitlines()
        lines.append(f"  [{mark}] {t['name']}{pts}" + (f": {msg[-1][:200]}" if msg and t["passed"] is not True
                                                       else ""))
    label = _("note", language)
    for note in res.get("notes", []):
        lines.append(f"  {label}: {note.splitlines()[0][:300] if note else ''}")
    return "\n".join(lines)


def notebook_text_language(data: bytes) -> str:
    """The language of the notebook to hand in (its metadata); the session's when it cannot be read."""
    try:
        nb = json.loads(data)
    except ValueError:
        return current_language()
    return notebook_language(nb) if isinstance(nb, dict) else current_language()


def submit(notebook: str | Path | None = None, assignment: str | None = None, server: str | None = None,
           token: str | None = None, wait: bool = True, poll: float = 1.0, timeout: float = 1800,
           out=None) -> dict:
    """Hand in a notebook and (with `wait`) print its progress, then its score and each test's message.
    Returns the submission as the service last described it."""
    out = out or sys.stdout
    server = (server or os.environ.get("DLCOURSE_SERVER", "")).rstrip("/")
    token = (token or os.environ.get("DLCOURSE_TOKEN", "")).strip()
    if not server or not token:
        raise SubmitError(_("set the server and your token: dlcourse.submit(server='https://...', token='...') "
                            "or $DLCOURSE_SERVER and $DLCOURSE_TOKEN", current_language()))
    data, name = notebook_content(notebook)
    lang = notebook_text_language(data)
    assignment = assignment or name
    status, headers, body = _request("POST", f"{server}{API}/assignments/{assignment}/submissions", token, data,
                                     language=lang)
    if status == 429:
        raise SubmitError(_("too many submissions: {detail} (Retry-After: {seconds} s)", lang).format(
            detail=body.get("detail", ""), seconds=headers.get("Retry-After", "?")))
    if status != 202:
        raise SubmitError(_("the server said {status}: {detail}", lang).format(status=status,
                                                                               detail=body.get("detail", body)))
    sub_id = body["id"]
    print(_("submitted {assignment}: {id}", lang).format(assignment=assignment, id=sub_id), file=out)
    if not wait:
        return body
    end, shown_line = time.time() + timeout, ""
    while True:
        status, _headers, view = _request("GET", f"{server}{API}/submissions/{sub_id}", token, language=lang)
        if status != 200:
            raise SubmitError(_("the server said {status}: {detail}", lang).format(status=status,
                                                                                   detail=view.get("detail", view)))
        if view["status"] in ("graded", "failed"):
            print("\r" + " " * len(shown_line) + "\r", end="", file=out)
            print(format_result(view, lang), file=out)
            return view
        line = (_("queued, position {position}", lang).format(position=view.get("position"))
                if view["status"] == "queued"
                else _("grading (started {started})", lang).format(started=view.get("started")))
        if line != shown_line:
            print("\r" + line.ljust(len(shown_line)), end="", file=out, flush=True)
            shown_line = line
        if time.time() > end:
            print(file=out)
            raise SubmitError(_("no result after {seconds} s: look again later with its id {id}", lang).format(
                seconds=f"{timeout:.0f}", id=sub_id))
        time.sleep(poll)
