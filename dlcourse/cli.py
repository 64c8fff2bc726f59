"""The course's command line: `dlcourse COMMAND`, one per step of running a class (release, collect,
autograde, feedback, similarity; serve and tokens to grade on submit), for students (validate, submit),
and for authors (new-exercise, bundle, demo, lab, dask-certs). `dlcourse COMMAND --help` says more."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .course import Course, CourseError


def _course(args) -> Course:
    """The course every command works on, built once from its grader_config.py (--root, or the
    folder holding it at or above the working directory)."""
    return Course.at(Path(args.root) if args.root else None)


def _root(args) -> Path:
    return _course(args).root


def cmd_release(args) -> int:
    from .classroom.release import release

    course = _course(args)
    for name in release(course, args.assignment, args.db):
        print(f"released {name} -> release/{name}/")
        script = course.root / "source" / name / f"{name}.py"
        todo = script.read_text(encoding="utf-8").count("TODO") if script.is_file() else 0
        if todo:  # a scaffolded exercise not written yet (dlcourse new-exercise): released, but say so
            print(f"warning: source/{name}/{name}.py still says TODO {todo} time(s): an exercise from "
                  "`dlcourse new-exercise` is not written yet (the suite fails until it is)")
    return 0


def cmd_autograde(args) -> int:
    from .classroom.reports import grades_table, summary_table, write_reports
    from .grader.autograde import autograde

    course = _course(args)
    root, db_url = course.root, args.db or course.db_url
    summaries = autograde(course, args.assignment, db_url=db_url, student=args.student, force=args.force,
                          workers=args.workers, scheduler=args.dask or args.scheduler,
                          use_dask=args.dask is not None, dask_certs=args.dask_certs,
                          sandbox=not args.unsandboxed_authoring, progress=not args.quiet)
    for name in course.assignments(args.assignment):
        try:
            out = write_reports(course, db_url, name)
        except OSError as exc:  # the grades are saved: the next run writes the reports again
            print(f"dlcourse: warning: the reports of {name} could not be written ({exc.strerror or exc}); "
                  "the grades are saved: `dlcourse autograde` writes them again", file=sys.stderr)
            continue
        table = grades_table(course, db_url, name)
        if not table.empty:
            print(f"\n== {name}")
            print(summary_table(course, name, table, db_url))
            files = ", ".join(sorted(p.name for p in out.iterdir() if p.is_file()))
            print(f"reports: {out.relative_to(root)}/ ({files})")
    failed_us = sum(s.grader_failures for s in summaries.values())
    if failed_us:  # never a student's 0: said, and the run fails
        print(f"dlcourse: error: the grader failed on {failed_us} submission(s) (see above); nothing was "
              "recorded for them, and the next run grades them again", file=sys.stderr)
        return 1
    return 1 if any(s.failed for s in summaries.values()) and args.strict else 0


def cmd_dask_certs(args) -> int:
    from .grader.cluster import make_certs

    for path in make_certs(Path(args.folder)):
        print(f"wrote {path}")
    return 0


def cmd_feedback(args) -> int:
    from .classroom.feedback import feedback
    from .course import resolve_assignments

    root = _root(args)
    roster = Path(args.roster) if args.roster else None
    if args.pack in ("moodle", "canvas") and roster is None:  # refused before any page is written
        from .classroom.deadlines import load_schedule

        if load_schedule(root).roster is None:
            print(f"dlcourse: error: --pack {args.pack} needs the roster's LMS ids: pass --roster FILE or set "
                  "ROSTER in grader_config.py", file=sys.stderr)
            return 2
    for name in resolve_assignments(root, args.assignment):
        written = feedback(root, name, roster_path=roster)
        print(f"{name}: feedback for {len(written)} notebook(s) in feedback/" if written else
              f"{name}: no feedback written: nothing of {name} is graded yet (run dlcourse autograde {name})")
        if args.pack:
            from .classroom.feedback import pack_feedback

            for path in pack_feedback(root, name, args.pack, roster):
                print(f"{name}: {args.pack} pack {path.relative_to(root)}")
    return 0


def cmd_validate(args) -> int:
    from .classroom.validate import validate

    try:
        timeout = _course(args).settings.cell_timeout
    except FileNotFoundError:  # a notebook outside any course: the default limit
        timeout = 600
    _language_of(Path(args.notebook))
    return validate(Path(args.notebook), timeout=timeout)


def _language_of(path: Path) -> None:
    """Messages in the notebook's language (its metadata): $DLCOURSE_LANG for this process and the
    kernel it starts, unless already set."""
    import json

    from .i18n import notebook_language

    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(nb, dict):
        os.environ.setdefault("DLCOURSE_LANG", notebook_language(nb))


def cmd_bundle(args) -> int:
    from .classroom.bundle import build_bundle

    out = build_bundle(_root(args), Path(args.out))
    print(f"student bundle written to {out}")
    return 0


def cmd_demo(args) -> int:
    from .classroom.demo import run_demo

    return run_demo(_course(args), args.assignment, full=args.full, workers=args.workers,
                    whole_class=args.demo_class == "full")


def cmd_collect(args) -> int:
    from .classroom.collect import collect, format_table, merged_manifest, read_manifest, write_manifest

    course = _course(args)
    root = course.root
    (name,) = course.assignments(args.assignment)
    read_manifest(root, name)  # an unreadable manifest stops the collect before anything is written
    result = collect(course, name, Path(args.archive), lms=args.lms,
                     roster_path=Path(args.roster) if args.roster else None, db_url=args.db,
                     archive_tz=args.archive_tz, dry_run=args.dry_run)
    print(format_table(result))
    if args.dry_run:
        rows, before = merged_manifest(root, name, result), read_manifest(root, name)
        for path in [*result.writes, f"reports/{name}/collect.csv ({len(rows)} student(s): "
                                     f"{len(set(before) - set(result.taken) - set(result.wrong_format))} kept "
                                     "from earlier collects)"]:
            print(f"would write: {path}")
        print("dry run: nothing was written")
        return 0
    print(f"manifest: {write_manifest(root, name, result).relative_to(root)} (merged per student with earlier "
          "collects: the latest attempt wins, by submission time when both are known, else this collect)")
    return 0


def cmd_similarity(args) -> int:
    from .classroom.similarity import similarity
    from .course import resolve_assignments

    root = _root(args)
    (name,) = resolve_assignments(root, args.assignment)
    report, pairs, notes = similarity(root, name, top=args.top)
    for p in pairs[: args.top]:
        print(f"{p.a:<24} {p.b:<24} {p.score:6.1%}  (shared tokens: {p.tokens})")
    for note in notes:
        print(f"left out: {note}")
    print(f"report: {report.relative_to(root)}")
    return 0


def cmd_new_exercise(args) -> int:
    from .config import REPO_ROOT
    from .instructor.fixtures import min_misconceptions
    from .instructor.scaffold import NEXT_STEPS, REBUILD, new_exercise, reference_module

    root = _root(args)
    if root.resolve() != REPO_ROOT.resolve():  # the references would land in another course's package
        raise CourseError(f"new-exercise works in the course repository whose package it is ({REPO_ROOT}): its "
                          f"references go in {REPO_ROOT / 'dlcourse' / 'instructor'}, its fixtures in its tests/; "
                          f"{root} is another folder")
    for path in new_exercise(root, args.assignment, args.name):
        print(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    script = (root / "source" / args.assignment / f"{args.assignment}.py").read_text(encoding="utf-8")
    print(NEXT_STEPS.format(name=args.name, assignment=args.assignment, module=reference_module(script),
                            wrong=min_misconceptions(args.assignment), rebuild=REBUILD.format(a=args.assignment)))
    return 0


def cmd_lab(args) -> int:
    from .lab import run_lab

    return run_lab(_root(args), port=args.port, token=args.token)


def cmd_serve(args) -> int:
    import uvicorn

    from .classroom.serve.app import Service, create_app
    from .classroom.serve.policy import SubmitPolicy
    from .classroom.serve.store import db_location, set_pool_size

    course = _course(args)
    location = db_location(args.db, course.root)
    set_pool_size(location, SubmitPolicy.from_config(course.settings.submit).db_pool)  # PostgreSQL's pool
    service = Service(course, location, args.gradebook or course.db_url, workers=args.workers, lease=args.lease)
    tls = {"ssl_certfile": args.ssl_certfile, "ssl_keyfile": args.ssl_keyfile} if args.ssl_certfile else {}
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="info" if args.verbose else "warning",
                **tls)
    return 0


def cmd_tokens(args) -> int:
    import csv

    from .classroom.collect import read_roster
    from .classroom.serve.store import Store, db_location

    course = _course(args)
    store = Store(db_location(args.db, course.root))
    if args.revoke:
        for student in args.revoke:
            print(f"{student}: {store.revoke(student)} token(s) revoked")
        return 0
    students = list(args.student or [])
    if not students:
        roster = (course.settings.schedule or {}).get("ROSTER")
        if args.roster or roster:
            path = Path(args.roster or roster)
            students = [s.student_id for s in read_roster(path if path.is_absolute() else course.root / path)]
    if not students:
        raise CourseError("no students: give --student ID (repeatable), --roster CSV, or ROSTER in grader_config.py")
    out = Path(args.out)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "token"])
        for student in students:
            writer.writerow([student, store.issue_token(student)])
    os.chmod(out, 0o600)
    print(f"{len(students)} token(s) written to {out} (only their hashes are kept in {store.name}; "
          "earlier tokens of these students are revoked): hand each student theirs through the LMS")
    return 0


def cmd_submit(args) -> int:
    from .classroom.serve.client import SubmitError, submit

    try:
        view = submit(args.notebook, assignment=args.assignment, server=args.server, token=args.token,
                      wait=not args.no_wait)
    except SubmitError as exc:
        print(f"dlcourse: error: {exc}", file=sys.stderr)
        return 1
    return 0 if view.get("status") != "failed" else 1


def cmd_translate(args) -> int:
    """`translate update ID...`, `translate check [ID...]`, `translate messages` (issue 31)."""
    from .i18n import notebooks as tr

    if args.action == "messages":
        from .i18n.extract import update_messages

        path, counts = update_messages()
        print(f"{path}: {counts['messages']} messages, {counts['translated']} translated, "
              f"{counts['missing']} missing, {counts['fuzzy']} fuzzy; concept-question explanations: "
              f"{counts['explanations_translated']} of {counts['explanations']} translated; tests' texts: "
              f"{counts['tests_translated']} of {counts['tests']} visible, {counts['hidden_translated']} of "
              f"{counts['hidden']} hidden translated")
        return 1 if counts["missing"] or counts["fuzzy"] else 0
    from .classroom.release import english_release

    course = _course(args)
    names = course.assignments(None) if not args.assignments else [
        n for a in args.assignments for n in course.assignments(a)]
    if args.action == "update" and not args.assignments:
        print("dlcourse: error: name the assignment(s) to update", file=sys.stderr)
        return 2
    incomplete = 0
    for name in names:
        po = tr.po_path(course.root, name)
        if args.action == "check" and not po.is_file():
            print(f"{name}: no {tr.LANGUAGE} catalogue (released in English only)")
            continue
        nb = english_release(course, name)
        if args.action == "update":
            merge = tr.update(nb, name, po)
            print(f"{po.relative_to(course.root)}: {len(merge.added)} new, {len(merge.changed)} changed "
                  f"(fuzzy), {len(merge.removed)} removed (obsolete)")
        found = tr.status(nb, name, tr.read_catalog(po))
        print(found.line())
        for label, cells in (("missing", found.missing), ("stale", found.stale)):
            if cells and args.action == "check":
                print(f"  {label}: {', '.join(cells)}")
        incomplete += not found.complete
    if args.action == "update":  # the assignments' test texts and explanations join the message catalogues
        from .i18n.extract import update_messages

        path, counts = update_messages()
        from .i18n import HIDDEN_TESTS_PATH, QUESTIONS_PATH, TESTS_PATH

        print(f"tests' texts to translate: {counts['tests'] - counts['tests_translated']} visible "
              f"({_shown(TESTS_PATH('pt_BR'))}), {counts['hidden'] - counts['hidden_translated']} hidden "
              f"({_shown(HIDDEN_TESTS_PATH('pt_BR'))}); explanations: "
              f"{counts['explanations'] - counts['explanations_translated']} ({_shown(QUESTIONS_PATH('pt_BR'))}); "
              "a fuzzy entry is a guess from a similar text: check it, then remove its fuzzy flag")
    if args.action == "check":  # the messages a student of these notebooks can see: never English by default
        from .i18n.extract import missing_messages

        translated = {n for n in names if tr.po_path(course.root, n).is_file()}
        missing = missing_messages(assignments=translated) if translated else []
        print(f"messages (checks, hidden tests, explanations, the grader's): {len(missing)} untranslated")
        for text in missing[:20]:
            print(f"  missing: {text[:100]}")
        incomplete += bool(missing)
    return 1 if incomplete and args.action == "check" else 0


def _shown(path: Path) -> str:
    """A package file's path as the user would type it (relative to the working directory if inside)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake on the command line said in one line, the nearest right spelling
    suggested, and exit 2 (argparse prints its usage, a wall of every command, and no suggestion)."""

    def error(self, message: str):
        import difflib
        import re

        m = re.match(r"argument (?:command|\{.*?\}): invalid choice: '(.*?)'", message)
        if m:  # a misspelt command
            commands = sorted(self._commands())
            close = difflib.get_close_matches(m.group(1), commands, n=1)
            message = f"{m.group(1)!r} is not a command" + (f" (did you mean {close[0]!r}?)" if close else "")
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")

    def _commands(self) -> list[str]:
        return [name for action in self._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices]

    def parse_args(self, args=None, namespace=None):
        argv = list(sys.argv[1:] if args is None else args)
        top = [o for a in self._actions for o in a.option_strings]
        for i, word in enumerate(argv):  # an unknown option before the command: argparse would take
            if not word.startswith("-"):  # its value for the command ("'x' is not a command")
                if i == 0 or argv[i - 1] != "--root":
                    break
                continue
            name = word.split("=", 1)[0]
            if name.startswith("--") and not any(o.startswith(name) for o in top if o.startswith("--")):
                import difflib

                close = difflib.get_close_matches(name, top, n=1)
                self.error(f"unknown option {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        args, extras = self.parse_known_args(argv, namespace)
        if extras:  # a misspelt option: say which, and the option it most likely meant
            parser = self
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None):
                    parser = action.choices[getattr(args, action.dest)]
            known = [o for a in [*parser._actions, *self._actions] for o in a.option_strings
                     if a.help != argparse.SUPPRESS]
            first = extras[0].split("=", 1)[0]
            if first.startswith("-"):
                import difflib

                close = difflib.get_close_matches(first, known, n=1)
                parser.error(f"unknown option {first!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            parser.error(f"unexpected argument{'s' if len(extras) > 1 else ''}: {' '.join(extras)}")
        return args


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dlcourse", description=__doc__)
    parser.add_argument("--root", help="course directory (default: the folder with grader_config.py)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what happens (-v: each step and submission, -vv: debug detail) to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate release/ from source/")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--db", help="gradebook SQLAlchemy URL (default: sqlite gradebook.db)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("autograde", help="grade submitted/<student>/<assignment>/ into autograded/")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--db", help="gradebook SQLAlchemy URL, e.g. postgresql://user@host/db")
    p.add_argument("--student", help="grade only this student (others untouched)")
    p.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    p.add_argument("--workers", type=_positive, default=None, help="parallel graders (default: cores)")
    p.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="grade on Dask workers: at the scheduler tls://host:8786 (with --dask-certs), "
                        "or on a local cluster without an address")
    p.add_argument("--dask-certs", metavar="DIR", help="the TLS certificates `dlcourse dask-certs DIR` made")
    p.add_argument("--scheduler", help=argparse.SUPPRESS)  # the former spelling of --dask ADDRESS
    p.add_argument("--unsandboxed-authoring", action="store_true",
                   help="AUTHORING ONLY: run the notebooks without the bubblewrap sandbox, with your rights "
                        "(never for students' submissions); every grade is marked unsandboxed")
    p.add_argument("--strict", action="store_true", help="exit 1 when a submission could not be graded")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("dask-certs", help="TLS certificates (a CA; scheduler, worker, client) for --dask")
    p.add_argument("folder")
    p.set_defaults(func=cmd_dask_certs)

    p = sub.add_parser("feedback", help="per-student HTML feedback without hidden test code")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--pack", choices=["moodle", "canvas", "zip"],
                   help="also pack the pages for an LMS's bulk feedback upload (or one zip per student)")
    p.add_argument("--roster", help="roster CSV (default: ROSTER of grader_config.py)")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("validate", help="run a notebook's tests; exit 1 if any fails")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("translate", help="the Portuguese catalogues: update, check, messages")
    p.add_argument("action", choices=["update", "check", "messages"],
                   help="update: merge the notebook's cells into source/ID/ID.pt_BR.po; check: count cells, "
                        "translated, missing, stale (exit 1 if any is missing or stale); messages: extract "
                        "the package's messages into dlcourse/i18n/locale/pt_BR/LC_MESSAGES/dlcourse.po")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("bundle", help="write the student bundle")
    p.add_argument("out")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("demo", help="release, grade a demo class, write feedback and reports")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--full", action="store_true", help="run training cells at the published size")
    p.add_argument("--class", dest="demo_class", choices=["small", "full"], default="small",
                   help="small: the whole class on the first notebook, the reference on the others (default); "
                        "full: the whole class on every notebook")
    p.add_argument("--workers", type=_positive, default=None,
                   help="parallel graders (default: cores + 1, see dlcourse.classroom.demo.demo_workers)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("collect", help="an LMS's submissions archive (Moodle, Canvas, Classroom) into submitted/")
    p.add_argument("assignment")
    p.add_argument("archive", help="the zip downloaded from the LMS")
    p.add_argument("--lms", choices=["moodle", "canvas", "classroom", "auto"], default="auto")
    p.add_argument("--roster", help="roster CSV (default: ROSTER of grader_config.py)")
    p.add_argument("--db", help="gradebook SQLAlchemy URL for the roster's names (default: sqlite gradebook.db)")
    p.add_argument("--archive-tz", help="time zone of the archive's file times (default: TIMEZONE)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (matched, late, wrong format, unmatched, missing, files) and write nothing")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("similarity", help="rank pairs of students by similar answer cells (copydetect)")
    p.add_argument("assignment")
    p.add_argument("--top", type=int, default=10, help="pairs shown side by side in the report")
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("new-exercise",
                       help="scaffold an exercise: solution, test, reference stub, misconception and valid fixtures")
    p.add_argument("assignment")
    p.add_argument("name", help="the function or class the student writes (its grade_id)")
    p.set_defaults(func=cmd_new_exercise)

    p = sub.add_parser("lab", help="JupyterLab on the course with nbgrader's formgrader and assignment list")
    p.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (another free one if taken)")
    p.add_argument("--token", help="login token (default: a random one, printed in the URL)")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("serve", help="grade on submit: the HTTP service students hand in to (API v1, /docs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", help="the queue and history: an SQLite file (default: serve.db in the course), or "
                                "postgresql://user@host/db for several services sharing one queue")
    p.add_argument("--gradebook", help="gradebook SQLAlchemy URL (default: sqlite gradebook.db)")
    p.add_argument("--workers", type=_positive, default=1, help="submissions graded at once (default 1)")
    p.add_argument("--lease", type=_positive, default=60, help="seconds a dead service's jobs wait before another "
                                                               "service grades them (default 60; renewed every 1/4)")
    p.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("tokens", help="issue (or --revoke) the students' tokens for `dlcourse serve`")
    p.add_argument("--db", help="the service's database: an SQLite file (default: serve.db in the course) or "
                                "postgresql://user@host/db")
    p.add_argument("--roster", help="roster CSV (default: ROSTER of grader_config.py)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--revoke", action="append", metavar="STUDENT", help="revoke this student's tokens (repeatable)")
    p.add_argument("--out", default="tokens.csv", help="where the new tokens are written (default tokens.csv)")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("submit", help="hand a notebook in to the grading service and print its result")
    p.add_argument("notebook")
    p.add_argument("--assignment", help="default: the notebook's file name")
    p.add_argument("--server", help="default: $DLCOURSE_SERVER")
    p.add_argument("--token", help="default: $DLCOURSE_TOKEN")
    p.add_argument("--no-wait", action="store_true", help="print the id and return")
    p.set_defaults(func=cmd_submit)
    return parser


# the commands that work on a course: its grader_config.py is checked before they start (the demo
# builds a course of its own; validate runs a student's notebook)
COURSE_COMMANDS = {"release", "translate", "autograde", "dask-certs", "feedback", "bundle", "collect", "similarity",
                   "new-exercise", "lab", "serve", "tokens"}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    args = build_parser().parse_args(argv)
    import logging

    # -v and -vv concern the course's own steps; other libraries stay at warnings
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("dlcourse").setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)])
    try:
        if args.command in COURSE_COMMANDS:
            from .classroom.settings_check import problems
            from .course import ensure_tools_on_path

            found = problems(_course(args))
            if found:
                for line in found:
                    print(f"dlcourse: error: {line}", file=sys.stderr)
                print(f"dlcourse: {len(found)} mistake(s) in grader_config.py: nothing was done", file=sys.stderr)
                return 2
            ensure_tools_on_path()  # nbgrader's gradebook shells out to alembic (after the check: it is slow)
        return args.func(args)
    except (CourseError, FileNotFoundError) as exc:
        print(f"dlcourse: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
