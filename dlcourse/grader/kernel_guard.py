"""The guard on the course environment's own Python kernel: nbgrader's autograde starts no kernel
from it, whoever runs it.

The course's configuration (grader_config.py) refuses `nbgrader autograde` and formgrader's button,
but a configuration file only counts where it is loaded. nbgrader's Python API, as its documentation
teaches it (`NbGraderAPI(config=Config(...)).autograde(...)`), loads none, and would run the tests
inside the student's kernel, unsandboxed. This guard sits one level lower, where every path to a
kernel passes: a jupyter_client kernel provisioner, named in the kernelspec of the course's virtual
environment (`.venv/share/jupyter/kernels/python3/kernel.json`, written by `make venv` through
`python -m dlcourse.grader.kernel_guard`). Before it launches a kernel it looks at what this process
is doing; while nbgrader's Autograde converter runs with anything but dlcourse's `SandboxedExecute`
it refuses, and undoes the gradebook row and the autograded/ copy that run made.

Everything else starts its kernel as jupyter_client's LocalProvisioner would: JupyterLab, notebooks
run by the tests, `nbgrader validate` for students. dlcourse's grading kernels never reach it: they
start from a kernelspec of their own (bwrap in front) that the sandbox puts first on JUPYTER_PATH.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

PROVISIONER = "dlcourse-guard"  # the entry point's name (pyproject.toml, jupyter_client.kernel_provisioners)
log = logging.getLogger(__name__)


class RefusedKernel(RuntimeError):
    """A kernel the guard did not start."""


def unsandboxed_autograde():
    """(Autograde converter, the resources of its notebook) of an nbgrader autograde that runs in this
    process with nbgrader's own Execute in place of dlcourse's `SandboxedExecute`, or None.

    Every thread's stack is read: when an event loop already runs (a notebook, a server),
    jupyter_client starts the kernel from a thread of its own while the converter waits in another."""
    autograde = sys.modules.get("nbgrader.converters.autograde")
    if autograde is None:  # nbgrader's autograde was never imported: nothing of it runs
        return None
    sandbox = sys.modules.get("dlcourse.grader.sandbox")
    sandboxed = sandbox.SandboxedExecute if sandbox is not None else ()
    for top in sys._current_frames().values():
        converter, resources, frame, safe = None, None, top, False
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, autograde.Autograde):
                converter = owner
            elif sandboxed and isinstance(owner, sandboxed):
                safe = True
            found = frame.f_locals.get("resources")
            if resources is None and isinstance(found, dict) and "nbgrader" in found:
                resources = found
            frame = frame.f_back
        if converter is not None and not safe:
            return converter, resources
    return None


class GuardedProvisioner(LocalProvisioner):
    """jupyter_client's LocalProvisioner, which refuses to launch while an unsandboxed nbgrader
    autograde runs in the process that asks (`unsandboxed_autograde`)."""

    async def pre_launch(self, **kwargs):
        found = unsandboxed_autograde()
        if found is not None:
            from .preprocessors import REFUSAL, forget_refused_run

            converter, resources = found
            forget_refused_run(resources, getattr(converter, "coursedir", None))
            log.error(REFUSAL)
            raise RefusedKernel(REFUSAL)
        return await super().pre_launch(**kwargs)


def kernelspec_file(prefix: str | Path = sys.prefix) -> Path:
    """The kernelspec of the environment's own Python kernel (ipykernel installs it there)."""
    return Path(prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"


def is_installed(prefix: str | Path = sys.prefix) -> bool:
    """Whether the environment's kernelspec names the guard, and jupyter_client can find it."""
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    try:
        spec = json.loads(kernelspec_file(prefix).read_text())
    except (OSError, ValueError):
        return False
    named = spec.get("metadata", {}).get("kernel_provisioner", {}).get("provisioner_name") == PROVISIONER
    return named and PROVISIONER in KernelProvisionerFactory.instance().provisioners


def shadowing_kernelspec(prefix: str | Path = sys.prefix) -> Path | None:
    """The `python3` kernelspec Jupyter finds first, when it is not the environment's own (one in
    ~/.local/share/jupyter, from `python -m ipykernel install --user`, comes first): kernels started
    by name then meet no guard. None when the environment's own is the one found."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        found = Path(KernelSpecManager().get_kernel_spec("python3").resource_dir).resolve()
    except NoSuchKernel:
        return None
    own = kernelspec_file(prefix).parent.resolve()
    return None if found == own else found


def install(prefix: str | Path = sys.prefix) -> Path:
    """Name the guard in the environment's kernelspec (after pip, which rewrites it with ipykernel)."""
    path = kernelspec_file(prefix)
    spec = json.loads(path.read_text())
    spec.setdefault("metadata", {})["kernel_provisioner"] = {"provisioner_name": PROVISIONER, "config": {}}
    path.write_text(json.dumps(spec, indent=1) + "\n")
    return path


def problem() -> str:
    """What leaves nbgrader's Python API unguarded in this environment, in one line; "" when nothing."""
    if not is_installed():
        return ("this environment's Python kernel has no guard against nbgrader's own autograde (its Python "
                "API would grade unsandboxed): run `python -m dlcourse.grader.kernel_guard`")
    shadow = shadowing_kernelspec()
    if shadow is not None:
        return (f"Jupyter finds the python3 kernel in {shadow} before this environment's guarded one, so "
                f"nbgrader's Python API would grade unsandboxed: remove that folder (`jupyter kernelspec "
                f"remove python3` removes the first one found)")
    return ""


if __name__ == "__main__":
    try:
        where = install()
    except (OSError, ValueError) as exc:
        sys.exit(f"dlcourse: could not put the kernel guard in this environment's kernelspec: {exc}")
    if not is_installed():
        sys.exit(f"dlcourse: {where} names the kernel guard, but jupyter_client does not find it: "
                 "reinstall the course (pip install -e .)")
    print(f"kernel guard: {where}")
    if shadowing_kernelspec() is not None:
        print(f"dlcourse: warning: {problem()}", file=sys.stderr)
