"""Grade on submit from JupyterLab (issue #32), in a real browser: a student's notebook, opened in
JupyterLab as `make lab` starts it, gets a cell typed in the browser (not saved) calling
`dlcourse.submit(...)`; running it saves the notebook first, hands it in to a running
`dlcourse serve`, shows the progress line and then the score and each test's message in the
notebook. The screenshot of the result goes to $DLCOURSE_ARTIFACTS/browser/serve-result.png."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, type_into_cell
from test_serve import A, Server, make_course, notebook, tokens

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium (apt-get install chromium)"),
]


def test_submit_from_jupyterlab_shows_the_result_in_the_notebook(tmp_path, record_property):
    from playwright.sync_api import expect, sync_playwright

    from dlcourse.lab import running_lab

    course = make_course(tmp_path, ["lab-student"])
    server = Server(course).start()
    try:
        with running_lab(course, settings_dir=tmp_path / "lab-settings") as lab:
            mine = lab.workspace / "mine"
            mine.mkdir(parents=True)
            (mine / f"{A}.ipynb").write_bytes(notebook(course, "reference"))
            rel = (mine / f"{A}.ipynb").relative_to(course)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page.goto(lab.url(f"lab/workspaces/serve/tree/{rel}"))
                panel = page.locator(".jp-NotebookPanel")
                cells = panel.locator(".jp-Notebook .jp-Cell")
                expect(cells.first).to_be_visible()
                expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")
                first = cells.first.locator(".jp-InputPrompt, .jp-MarkdownOutput").first
                first.click()
                page.keyboard.press("Escape")
                page.keyboard.press("a")  # a new cell above the first, typed and not saved
                n = 0
                # the notebook opens with a markdown cell: a code cell first is the new one
                expect(cells.first).to_have_class(re.compile(r"\bjp-CodeCell\b"))
                expect(cells.first.locator(".cm-content")).to_have_text("")
                code = (f"import dlcourse\ndlcourse.submit(server={server.url!r}, "
                        f"token={tokens(course)['lab-student']!r})")
                type_into_cell(page, cells.nth(n).locator(".cm-content"), code, "dlcourse.submit(")
                page.keyboard.press("Shift+Enter")  # only this cell: the answers were run before
                out = cells.nth(n).locator(".jp-OutputArea")
                expect(out).to_contain_text("Score:", timeout=300_000)
                cells.nth(n).scroll_into_view_if_needed()
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / "serve-result.png"
                page.screenshot(path=str(shot))
                record_property("screenshot", str(shot))
                print(f"screenshot: {shot}")
                text = out.inner_text()
                browser.close()
    finally:
        server.stop()
    assert "test_softmax" in text and "PASS" in text
    db = sqlite3.connect(course / "serve.db")
    (body,) = db.execute("SELECT notebook FROM submissions").fetchone()
    sent = json.loads(body)
    assert "dlcourse.submit(" in "".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                                        for c in sent["cells"]), "the notebook was not saved before it was sent"
    assert Path(ARTIFACTS / "serve-result.png").is_file()
