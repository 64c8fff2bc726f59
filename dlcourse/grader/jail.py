"""Start a grading kernel with resource limits, as an unprivileged user (run inside bwrap).

    python -I jail.py --uid U --cpu S --nproc N --fsize B --conn FILE -- python -m ipykernel_launcher -f {conn}

Runs as a plain script with `-I` (no site-packages, no dlcourse import) so that nothing
the student controls is imported before the limits hold. Started as root, it copies the
connection file (written 0600 by the grader) to a copy the kernel's user may read, then
drops to that user: without capabilities the kernel cannot remount the read-only file
system, and the per-user process limit (which root ignores) bounds a fork bomb.
"""

import argparse
import ctypes
import os
import resource
import shutil
import sys

PR_SET_NO_NEW_PRIVS = 38


def main(argv: list[str]) -> None:
    if "--" not in argv:
        sys.exit("jail: expected -- before the command")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="jail")
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=0, help="CPU seconds of the kernel process")
    parser.add_argument("--nproc", type=int, default=0, help="processes and threads of the kernel's user")
    parser.add_argument("--fsize", type=int, default=0, help="largest file the kernel may write, in bytes")
    parser.add_argument("--conn", default="", help="the connection file to hand to the kernel's user")
    opts = parser.parse_args(argv[:split])
    command = argv[split + 1:]

    limits = [(resource.RLIMIT_CORE, 0)]
    if opts.cpu:
        limits.append((resource.RLIMIT_CPU, opts.cpu))
    if opts.fsize:
        limits.append((resource.RLIMIT_FSIZE, opts.fsize))
    if opts.nproc and os.getuid() == 0:  # a non-root user's limit would count the instructor's own processes
        limits.append((resource.RLIMIT_NPROC, opts.nproc))
    for which, value in limits:
        resource.setrlimit(which, (value, value))

    if os.getuid() == 0:
        if opts.conn:
            copy = opts.conn[:-5] + "-kernel.json" if opts.conn.endswith(".json") else opts.conn + "-kernel"
            shutil.copyfile(opts.conn, copy)
            os.chown(copy, opts.uid, opts.uid)
            os.chmod(copy, 0o600)
            command = [copy if part == opts.conn else part for part in command]
        os.setgroups([])
        os.setgid(opts.uid)
        os.setuid(opts.uid)
        if os.getuid() != opts.uid or os.geteuid() != opts.uid:
            sys.exit("jail: could not drop privileges")
    # in its own PID namespace the kernel's parent is pid 1, which ipykernel would take for
    # an orphaned kernel; bwrap --die-with-parent already stops it when the grader goes
    os.environ.pop("JPY_PARENT_PID", None)
    os.dup2(2, 1)  # ipykernel then prints its connection banner to stdout: keep the grader's clean
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
