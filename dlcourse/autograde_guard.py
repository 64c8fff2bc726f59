"""The guard on nbgrader's autograde in the course's environment: it grades only for dlcourse's worker.

The course's configuration (grader_config.py) refuses `nbgrader autograde` and formgrader's button,
but a configuration file only counts where it is loaded, and nbgrader's Python API, as its
documentation teaches it (`NbGraderAPI(config=Config(...)).autograde(...)`), loads none. Then
nbgrader runs the tests inside the student's kernel, unsandboxed, from whatever kernelspec and
preprocessors it is given (or with no kernel at all, when Execute is left out: every test cell then
scores). This guard is put where every one of those paths passes: `nbgrader.converters.autograde`
itself. A `.pth` file in the environment's site-packages (written by `make venv` through
`python -m dlcourse.autograde_guard`) imports this module at interpreter start; it waits for
nbgrader's autograde module to be imported and wraps `Autograde.start`, which refuses, before it
touches the submission, the gradebook or autograded/, unless the calling thread is inside
`sanctioned()`: dlcourse's worker, around its own sandboxed run. It also wraps nbgrader's
`Validator.validate`, which refuses a notebook of a course's submitted/ or autograded/ (nbgrader
would run it unsandboxed, as the instructor) from any folder and under any configuration, and
`ExportApp.init_plugin`, so that `nbgrader export` refuses while the gradebook holds a row that is
no grade of dlcourse's, whatever exporter it is given.

A post-import hook of our own, not wrapt's (`wrapt.register_post_import_hook`): the `.pth` runs in
every Python process of the environment, grading kernels included, and importing wrapt there costs
40 ms each; this module imports nothing at start but `threading` (under 2 ms).
"""

from __future__ import annotations

import sys
import threading

TARGET = "nbgrader.converters.autograde"
VALIDATOR = "nbgrader.validator"  # `nbgrader validate`, the assignment list's Validate button, the API's validate
PTH_NAME = "dlcourse-autograde-guard.pth"
PTH_LINE = "import dlcourse.autograde_guard as _g; _g.install()\n"
REFUSAL = ("nbgrader's own autograde (`nbgrader autograde`, formgrader's Autograde button, nbgrader's Python API)\n"
           "  is turned off in this course: it would run each test inside the student's kernel,\n"
           "  unsandboxed, where the student's code can fake a pass.\n"
           "  Grade with `dlcourse autograde` instead (nbgrader's autograde in a sandbox, each test judged\n"
           "  outside the kernel). Nothing was recorded.")

_state = threading.local()


class sanctioned:  # noqa: N801  (used as `with sanctioned():`, like a function)
    """nbgrader's autograde may run in this thread for the duration (dlcourse's worker only)."""

    def __enter__(self):
        self._before = getattr(_state, "sanctioned", False)
        _state.sanctioned = True

    def __exit__(self, *exc):
        _state.sanctioned = self._before


def is_sanctioned() -> bool:
    return getattr(_state, "sanctioned", False)


def _wrap(cls, name: str, guarded) -> None:
    """Replace `cls.name` by `guarded(original)`, once (a module imported again keeps one guard)."""
    original = getattr(cls, name)
    if getattr(original, "_dlcourse_guard", False):
        return
    wrapper = guarded(original)
    wrapper._dlcourse_guard = True
    setattr(cls, name, wrapper)


def guard(module) -> None:
    """Wrap `module.Autograde.start` (nbgrader.converters.autograde) so that it refuses unsanctioned."""
    def guarded(unguarded):
        def start(self):
            if not is_sanctioned():
                from nbgrader.converters.base import NbGraderException

                self.log.error(REFUSAL)
                raise NbGraderException(REFUSAL)
            return unguarded(self)
        return start

    _wrap(module.Autograde, "start", guarded)


def guard_validator(module) -> None:
    """Wrap `module.Validator.validate` (nbgrader.validator) so that it refuses a notebook of a course's
    submitted/ or autograded/: nbgrader would run it in a plain kernel, unsandboxed, as whoever asks
    (the instructor), whatever folder or configuration nbgrader was started from."""
    def guarded(unguarded):
        def validate(self, filename, *args, **kwargs):
            from pathlib import Path

            from dlcourse.classroom.validate import submission_of

            student = submission_of(Path(filename))
            if student is not None:
                assignment = Path(filename).resolve().parent.name
                message = (f"{filename} is a submission in the course: nbgrader's validate would run it unsandboxed, "
                           f"as you. Grade it with `dlcourse autograde {assignment} --student {student}`.")
                self.log.error(message)
                if hasattr(self.parent, "exit"):  # `nbgrader validate`: this line and exit 1, no traceback
                    self.parent.exit(1)
                raise PermissionError(message)
            return unguarded(self, filename, *args, **kwargs)
        return validate

    _wrap(module.Validator, "validate", guarded)


def guard_export(module) -> None:
    """Wrap `module.ExportApp.init_plugin` (nbgrader.apps.exportapp) so that whatever exporter
    `nbgrader export` is given (the course's, `--exporter`, a plugin of one's own) refuses while the
    gradebook holds a row that is no grade of dlcourse's (`classroom.nbgrader_export.refuse_ungradable`)."""
    def guarded(unguarded):
        def init_plugin(self):
            unguarded(self)
            plugin = self.plugin_inst
            export = plugin.export

            def refusing_export(gradebook):
                from pathlib import Path

                from dlcourse.classroom.nbgrader_export import refuse_ungradable

                refuse_ungradable(Path(self.coursedir.root), gradebook, plugin, self)
                return export(gradebook)

            plugin.export = refusing_export
        return init_plugin

    _wrap(module.ExportApp, "init_plugin", guarded)


EXPORT = "nbgrader.apps.exportapp"  # `nbgrader export`, with any exporter
GUARDS = {TARGET: guard, VALIDATOR: guard_validator, EXPORT: guard_export}


class _GuardingLoader:
    """The real loader of nbgrader's autograde module, which guards the module once it has run."""

    def __init__(self, loader, guard_of):
        self._loader, self._guard = loader, guard_of

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._guard(module)

    def __getattr__(self, name):  # get_code, get_source, is_package, ... as the real loader's
        return getattr(self._loader, name)


class _Finder:
    """First on sys.meta_path: finds nbgrader's autograde and validator modules through the others, and
    hands their spec back with a guarding loader. Any other module: not ours (None)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in GUARDS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _GuardingLoader(spec.loader, GUARDS[fullname])
                return spec
        return None


def install() -> None:
    """Guard nbgrader's autograde and validator in this process: at once if imported, else when they are."""
    for name, guard_of in GUARDS.items():
        if name in sys.modules:
            guard_of(sys.modules[name])
    if not all(name in sys.modules for name in GUARDS) and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def pth_file():
    """The `.pth` file that installs the guard in every Python process of this environment."""
    import sysconfig
    from pathlib import Path

    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


def is_installed() -> bool:
    try:
        return pth_file().read_text() == PTH_LINE
    except OSError:
        return False


def problem() -> str:
    """What leaves nbgrader's own autograde unguarded in this environment, in one line; "" when nothing."""
    if is_installed():
        return ""
    return ("nbgrader's own autograde is not guarded in this environment (its Python API would grade in the "
            "student's kernel, unsandboxed): run `python -m dlcourse.autograde_guard`")


if __name__ == "__main__":
    try:
        pth_file().write_text(PTH_LINE)
    except OSError as exc:
        sys.exit(f"dlcourse: could not write {pth_file()}: {exc}")
    print(f"nbgrader's autograde guarded: {pth_file()}")
