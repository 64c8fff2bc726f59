"""The HTTP service of `dlcourse serve` (FastAPI; OpenAPI at /docs and /openapi.json).

API v1 (every call with `Authorization: Bearer <token>` from `dlcourse tokens`; 401 without a valid one):

- `POST /api/v1/assignments/{assignment}/submissions`, the notebook's JSON as the body:
  202 with the id and the queue position; 413 past SUBMIT MAX_UPLOAD_MB; 429 with Retry-After past RATE.
- `GET /api/v1/submissions/{id}`: status (queued, grading, graded, failed), the timestamps and,
  once graded, the result (score, max, each test's points and message, notes, gradable).
  Another student's submission is 404, as an unknown one is.
- `GET /api/v1/assignments/{assignment}/submissions`: the student's own history.

Languages (issue 31): the human-readable texts of a reply (an error's "detail", a submission's
"message", each test's message and the notes of a result) are in the submitted notebook's language
(its metadata: "pt_BR" or "en"), as the feedback pages are; where the service cannot know it yet (no
valid token, a body that is not a notebook), in the client's (its `Accept-Language` header; English by
default). Each submission says its "language". The keys and the machine-readable values ("queued",
"graded", ...) are English in every language.

Grading threads (`workers`, default 1) claim jobs from the store and grade them (`grading.Grader`).
The service registers itself in the store, renews the leases of its jobs every `lease / 4` seconds
and re-queues the jobs of services that died (`Store.reap`), at start and on each heartbeat. Its
grading processes are watched by a process of their own (`watchdog`): they die with the service.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from ...course import STUDENT_ID, Course
from ...grader.protocol import Outcome
from ...i18n import N_, SOURCE_LANGUAGE, decimal, normalize
from ...i18n import gettext as _
from .grading import ClaimLost, Grader, check_sandbox, shown, submission_language
from .policy import SubmitPolicy
from .store import LEASE_SECONDS, Store, Submission
from .watchdog import Watchdog

logger = logging.getLogger(__name__)
API = "/api/v1"


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None


def request_language(request: Request) -> str:
    """The client's language from its Accept-Language header ("pt-BR", "pt;q=0.9, en;q=0.8"): the
    preferred of Portuguese and English, English when it names neither."""
    tags = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            tags.append((-q, i, tag.strip()))
    for _q, _i, tag in sorted(tags):
        if normalize(tag) == "pt_BR":
            return "pt_BR"
        if tag.lower().startswith("en") or tag == "*":
            return SOURCE_LANGUAGE
    return SOURCE_LANGUAGE


def status_message(view: dict, language: str) -> str:
    """A submission's status in words, in `language`."""
    status, result = view["status"], view.get("result") or {}
    if status == "queued":
        return _("queued, position {position}", language).format(position=view.get("position"))
    if status == "grading":
        return _("grading (started {started})", language).format(started=view.get("started"))
    if status == "failed" or view.get("gradable") is False or result.get("score") is None:
        return _("the grader failed on this submission (not your notebook's fault): it does not count", language)
    if not result.get("max"):
        return _("graded: the score is shown after the deadline", language)
    return _("graded: {score} / {total}", language).format(score=decimal(result["score"], language, 4),
                                                          total=decimal(result["max"], language, 4))


# the errors' details, each in the language of the request (the client's or the notebook's)
NEED_TOKEN = N_("a valid token is needed: Authorization: Bearer <your token>")
NO_ASSIGNMENT = N_("no assignment {assignment}")
BAD_STUDENT = N_("this student id cannot be a folder name")
TOO_LARGE = N_("the notebook is larger than {size} MB")
NOT_NOTEBOOK = N_("the body must be the notebook's JSON (.ipynb)")
RATE = N_("at most {count} submission(s) of {assignment} per {seconds} s: try again in {wait} s")
NO_SUBMISSION = N_("no such submission")
RECHECK_SECONDS = 30.0  # while the sandbox is broken: how often the preflight is tried again


class Service:
    def __init__(self, course: Course, store_path: Path | str, db_url: str, workers: int = 1, preflight: bool = True,
                 lease: float = LEASE_SECONDS):
        self.course, self.store_path, self.db_url = course, str(store_path), db_url
        self.lease = float(lease)
        self.id: str | None = None
        self.watchdog: Watchdog | None = None
        self.policy = SubmitPolicy.from_config(course.settings.submit)
        self.workers, self.preflight = max(1, workers), preflight
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.threads: list[threading.Thread] = []
        self.graders: list[Grader] = []
        self.local = threading.local()
        self.assignments = set(course.assignments())
        self.languages: dict[str, str] = {}  # submission id -> its notebook's language (read once)
        # the sandbox's health: after a job the grader failed, the preflight runs again before the next
        # job; while it fails, /healthz answers 503 with `broken` and no job is claimed (they wait queued)
        self.health_lock = threading.Lock()
        self.recheck, self.broken, self.next_check = False, "", 0.0

    def store(self) -> Store:
        if not hasattr(self.local, "store"):
            self.local.store = Store(self.store_path)
        return self.local.store

    def start(self) -> None:
        store = self.store()
        self.id = store.register()
        self._reap(store)
        if self.preflight:
            check_sandbox(self.course, self.db_url)
        self.watchdog = Watchdog()
        beat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        beat.start()
        self.threads.append(beat)
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"grader-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def _reap(self, store: Store) -> None:
        queued, failed = store.reap(self.policy.max_attempts)
        if queued or failed:
            logger.warning("%d submission(s) left grading by a stopped service are queued again, %d failed (gradable "
                           "false) after %d attempts", queued, failed, self.policy.max_attempts)
            self.wake.set()

    def _heartbeat(self) -> None:
        store = Store(self.store_path)
        try:
            while not self.stop.wait(self.lease / 4):
                try:
                    store.heartbeat(self.id, self.lease)
                    self._reap(store)
                except Exception:  # noqa: BLE001 (a database that is briefly away: the next beat retries)
                    logger.exception("heartbeat failed")
        finally:
            store.close()

    def shutdown(self) -> None:
        self.stop.set()
        self.wake.set()
        for grader in self.graders:  # a job being graded stops now: queued again below
            grader.close()
        for t in self.threads:
            t.join(timeout=5)
        if self.id is not None:
            released = Store(self.store_path)
            try:
                released.release(self.id)
            finally:
                released.close()
        if self.watchdog is not None:
            self.watchdog.close()

    def _loop(self) -> None:
        store = Store(self.store_path)
        grader = Grader(self.course, self.db_url, self.policy.counts, watchdog=self.watchdog, lease=self.lease)
        self.graders.append(grader)
        try:
            while not self.stop.is_set():
                if not self.sandbox_works():
                    self.stop.wait(1.0)
                    continue
                sub = store.claim(self.id, self.lease)
                if sub is None:
                    self.wake.wait(0.5)
                    self.wake.clear()
                    continue
                self._grade(store, grader, sub)
        finally:
            grader.close()
            store.close()

    def _grade(self, store: Store, grader: Grader, sub: Submission) -> None:
        logger.info("grading %s (%s/%s, attempt %d)", sub.id, sub.student, sub.assignment, sub.attempts)
        try:
            summary, outcome = grader.grade(store, sub)
        except ClaimLost:
            logger.warning("%s: its lease ran out while it was graded; another service grades it", sub.id)
            return
        except Exception as exc:  # noqa: BLE001 (the grader's own failure: never the student's 0)
            logger.exception("grading %s failed", sub.id)
            grader.close()
            summary = {"score_total": None, "max_total": None, "tests": [], "outcome": "grader",
                       "notes": [f"the grader failed: {type(exc).__name__}: {exc}"]}
            with contextlib.suppress(Exception):  # its language, where the store still answers
                summary["language"] = self.language(store, sub)
            outcome = Outcome.GRADER
        if self.stop.is_set() and outcome is Outcome.GRADER:
            return  # stopped under it: left `grading`, queued again at the next start
        if outcome is Outcome.GRADER:
            self.recheck = self.preflight  # the sandbox may have broken: the preflight again, before the next job
            summary["score_total"] = summary["max_total"] = None  # no score: the attempt is not the student's
            retry = sub.attempts < self.policy.max_attempts
            summary["notes"].append("the grader failed (not your notebook): " +
                                    ("it is graded again" if retry else "the attempt does not count"))
            store.finish(sub, summary, gradable=False, retry=retry)
        else:
            store.finish(sub, summary, gradable=True, retry=False)
        logger.info("%s: %s", sub.id, outcome.value)

    def sandbox_works(self) -> bool:
        """False while the sandbox fails the preflight (run again after a job the grader failed, then
        every RECHECK_SECONDS): the reason is kept in `broken` for /healthz."""
        with self.health_lock:
            if not self.recheck:
                return True
            if self.broken and time.monotonic() < self.next_check:
                return False
            from ...grader.cluster import sandbox_problem

            settings = self.course.settings
            problem = sandbox_problem.__wrapped__(str(self.course.root.resolve()),  # uncached: asked again
                                                  json.dumps(settings.sandbox or {}, sort_keys=True),
                                                  settings.cell_timeout)
            if problem:
                logger.error("the grading sandbox fails its preflight; no job is graded until it works: %s",
                             problem)
            elif self.broken:
                logger.warning("the grading sandbox works again")
            self.broken, self.recheck = problem, bool(problem)
            self.next_check = time.monotonic() + RECHECK_SECONDS
            return not problem

    def language(self, store: Store, sub: Submission) -> str:
        """The language of a submission's texts: its notebook's (kept with its result once graded)."""
        known = (sub.result or {}).get("language")
        if known is not None:
            self.languages.pop(sub.id, None)  # kept with the result from now on
            return known
        known = self.languages.get(sub.id)
        if known is None:
            known = self.languages[sub.id] = submission_language(store.notebook(sub.id))
        return known

    def view(self, store: Store, sub: Submission) -> dict:
        language = self.language(store, sub)
        out = {"id": sub.id, "assignment": sub.assignment, "student": sub.student, "status": sub.status,
               "received": _iso(sub.received), "started": _iso(sub.started), "finished": _iso(sub.finished),
               "attempts": sub.attempts, "gradable": sub.gradable, "language": language}
        if sub.status == "queued":
            out["position"] = store.position(sub.id)
        out["result"] = shown(self.course, sub, self.policy, language)
        out["message"] = status_message(out, language)
        return out


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app):
        service.start()
        yield
        service.shutdown()

    app = FastAPI(title="dlcourse grade on submit", version="1", lifespan=lifespan,
                  description="Students submit a notebook and read their own results and history.")

    def student_of(request: Request) -> str:
        auth = request.headers.get("authorization", "")
        scheme, _sep, token = auth.partition(" ")
        student = service.store().student_of(token.strip()) if scheme.lower() == "bearer" and token else None
        if student is None:
            raise HTTPException(401, _(NEED_TOKEN, request_language(request)),
                                headers={"WWW-Authenticate": "Bearer"})
        return student

    def known(assignment: str, request: Request) -> None:
        if assignment not in service.assignments:
            raise HTTPException(404, _(NO_ASSIGNMENT, request_language(request)).format(assignment=repr(assignment)))

    @app.post(f"{API}/assignments/{{assignment}}/submissions", status_code=202)
    async def submit(assignment: str, request: Request):
        """Queue a notebook (the body: its JSON) for grading."""
        student = student_of(request)
        known(assignment, request)
        lang = request_language(request)  # until the notebook is read
        if not STUDENT_ID.match(student):
            raise HTTPException(403, _(BAD_STUDENT, lang))
        limit = service.policy.max_upload_bytes
        too_large = _(TOO_LARGE, lang).format(size=limit // 2**20)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, too_large)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, too_large)
        try:
            nb = json.loads(body)
            if not isinstance(nb, dict) or "cells" not in nb:
                raise ValueError("not a notebook")
        except ValueError:
            raise HTTPException(400, _(NOT_NOTEBOOK, lang)) from None
        lang = submission_language(bytes(body))
        store = service.store()
        rate = (service.policy.rate_count, service.policy.rate_seconds) if service.policy.rate_seconds else None
        sub, wait = store.add(student, assignment, bytes(body), f"{assignment}.ipynb", rate)
        if sub is None:
            retry = int(wait + 0.999)
            detail = _(RATE, lang).format(count=service.policy.rate_count, assignment=assignment,
                                          seconds=decimal(service.policy.rate_seconds, lang, 2), wait=retry)
            return JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(retry)})
        service.languages[sub.id] = lang
        service.wake.set()
        return {"id": sub.id, "status": "queued", "position": sub.position,
                "url": f"{API}/submissions/{sub.id}", "language": lang,
                "message": status_message({"status": "queued", "position": sub.position}, lang)}

    @app.get(f"{API}/submissions/{{sub_id}}")
    def get_submission(sub_id: str, request: Request):
        """One of your submissions: its status and, once graded, its result."""
        student = student_of(request)
        store = service.store()
        sub = store.get(sub_id)
        if sub is None or sub.student != student:
            raise HTTPException(404, _(NO_SUBMISSION, request_language(request)))
        return service.view(store, sub)

    @app.get(f"{API}/assignments/{{assignment}}/submissions")
    def history(assignment: str, request: Request):
        """Your submissions of an assignment, oldest first."""
        student = student_of(request)
        known(assignment, request)
        store = service.store()
        return {"assignment": assignment, "submissions": [service.view(store, s)
                                                          for s in store.history(student, assignment)]}

    @app.get("/healthz")
    def health():
        if service.broken:  # the sandbox fails its preflight: hand-ins wait queued until it works
            return JSONResponse({"ok": False, "time": time.time(), "reason": f"grading sandbox: {service.broken}"},
                                status_code=503)
        return {"ok": True, "time": time.time()}

    return app
