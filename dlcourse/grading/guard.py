"""The test guard: runs inside the grading kernel before any of the student's code.

The grader sends this file's text to a fresh kernel (a silent request that IPython keeps
out of the history) and calls `install`. From then on:

* `restore(challenge)`, called by the grader (as a user expression, which IPython
  evaluates without input or AST transformers) right before each test cell, puts back
  everything a submission could patch to make a comparison pass: the functions and
  classes of numpy, math, builtins, the course's helpers and any package the tests
  import (module attributes, `sys.modules` entries, functions' code objects), the
  names that set-up cells bound to them, IPython's hooks (input and AST transformers,
  event callbacks, custom exception handlers, shadowed shell and kernel methods) and
  trace/profile hooks. It returns an HMAC of the challenge under a secret the student's
  code never sees, so a removed or faked guard fails the test instead of passing it,
  plus the names it had to restore (reported to the instructor as tampering).
* An audit hook (which cannot be removed, PEP 578) refuses imports of the instructor's
  reference modules and opens of their files when any frame on the stack comes from
  the student's code; only the test cells may use them, and `after_test` drops them
  from `sys.modules` and the namespace again after each test.

Threat model: the tests run in the student's process, so code written to find this
guard in memory and corrupt it is out of scope; everything short of that, monkeypatching
included, is undone or refused. Runs on the standard library only.
"""


def install(nonce, secret, module_names, trusted_prefixes, protected_prefix="dlcourse.instructor"):
    import hashlib
    import hmac
    import importlib
    import os
    import sys
    import types

    for name in module_names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a package the notebook may not have
            pass

    # what tests compare with; plotting and Keras/TensorFlow rebind their own attributes lazily
    roots = {"builtins", "math", "cmath", "operator", "functools", "numpy", "scipy", "torch", "dlcourse"}

    def protected_modules():
        found = {}
        for name, mod in list(sys.modules.items()):
            if isinstance(mod, types.ModuleType) and name.split(".")[0] in roots \
                    and not name.startswith(protected_prefix):
                found[name] = mod
        return found

    modules = protected_modules()
    snapshot = {}
    functions = {}
    for name, mod in modules.items():
        entries = {}
        for key, value in list(vars(mod).items()):
            if key.startswith("__") or not (callable(value) or isinstance(value, types.ModuleType)):
                continue
            entries[key] = value
            if isinstance(value, types.FunctionType):
                functions[id(value)] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
        snapshot[name] = entries
    pristine = {id(mod) for mod in modules.values()}
    for entries in snapshot.values():
        pristine.update(id(v) for v in entries.values())

    shell = get_ipython()  # noqa: F821 - defined in the kernel
    kernel = getattr(shell, "kernel", None)
    user_ns = shell.user_ns
    hook_lists = {attr: list(getattr(shell, attr)) for attr in
                  ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")
                  if hasattr(shell, attr)}
    events = {name: list(callbacks) for name, callbacks in shell.events.callbacks.items()}
    shell_keys = set(vars(shell))
    kernel_keys = set(vars(kernel)) if kernel is not None else set()
    shell_handlers = dict(getattr(kernel, "shell_handlers", {}) or {})
    custom = (shell.custom_exceptions, shell.CustomTB)
    streams = (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook)
    bindings = {}
    state = {"pending_test": False, "test_files": set(), "violations": []}
    trusted = tuple(trusted_prefixes)
    _getframe, _str, _isinstance = sys._getframe, str, isinstance

    def student_frame():
        frame = _getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (filename.startswith(trusted) or filename in state["test_files"]
                    or filename.startswith("<frozen ") or filename == "<dlcourse-guard>"):
                return filename
            frame = frame.f_back
        return None

    def audit(event, args):
        if event == "exec":
            if state["pending_test"]:
                code = args[0] if args else None
                filename = getattr(code, "co_filename", "")
                if filename and not filename.startswith(trusted):
                    state["test_files"].add(filename)
                    state["pending_test"] = False
        elif event == "import":
            module = args[0] if args else ""
            if _isinstance(module, _str) and module.startswith(protected_prefix):
                culprit = student_frame()
                if culprit:
                    state["violations"].append(f"import {module}")
                    raise ImportError(f"{module} is not available to submissions")
        elif event == "open":
            path = args[0] if args else ""
            if _isinstance(path, (str, bytes)):
                text = path.decode(errors="replace") if _isinstance(path, bytes) else path
                if "instructor" in text and "/dlcourse/instructor" in os.path.realpath(text):
                    culprit = student_frame()
                    if culprit:
                        state["violations"].append(f"open {text}")
                        raise PermissionError(f"{text} is not available to submissions")

    sys.addaudithook(audit)

    def from_student(obj):
        """Whether a callable was written by the submission (not by a library or the course)."""
        for candidate in (obj, getattr(obj, "__func__", None), vars(type(obj)).get("__call__"),
                          getattr(obj, "func", None)):
            code = getattr(candidate, "__code__", None)
            if code is not None:
                return not code.co_filename.startswith(trusted)
        return False

    def prune(current, original):
        kept = [x for x in current if any(x is o for o in original) or not from_student(x)]
        changed = len(kept) != len(current)
        current[:] = kept
        return changed

    def put_back():
        restored = []
        for name, mod in modules.items():
            if sys.modules.get(name) is not mod:
                sys.modules[name] = mod
                restored.append(f"sys.modules[{name!r}]")
            current = vars(mod)
            for key, value in list(snapshot[name].items()):
                new = current.get(key)
                if new is value:
                    continue
                if new is not None and getattr(new, "__wrapped__", None) is value and not from_student(new):
                    snapshot[name][key] = new  # a library's own wrapper (torch._dynamo wraps manual_seed)
                    continue
                current[key] = value
                restored.append(f"{name}.{key}")
        for func, code, defaults, kwdefaults in functions.values():
            if func.__code__ is not code or func.__defaults__ is not defaults \
                    or func.__kwdefaults__ is not kwdefaults:
                func.__code__, func.__defaults__, func.__kwdefaults__ = code, defaults, kwdefaults
                restored.append(f"{func.__module__}.{func.__qualname__}.__code__")
        for key, value in bindings.items():
            if user_ns.get(key) is not value:
                user_ns[key] = value
                restored.append(f"the name {key!r}")
        for key, value in list(user_ns.items()):  # `np = fake` posing as a protected module
            claimed = getattr(value, "__name__", None) if not isinstance(value, type) else None
            if isinstance(claimed, str) and claimed in modules and value is not modules[claimed] \
                    and not isinstance(value, types.FunctionType):
                user_ns[key] = modules[claimed]
                restored.append(f"the name {key!r}")
        for attr, original in hook_lists.items():
            if prune(getattr(shell, attr), original):
                restored.append(f"IPython {attr}")
        for name, original in events.items():
            if prune(shell.events.callbacks.setdefault(name, []), original):
                restored.append(f"IPython event {name}")
        for key in set(vars(shell)) - shell_keys:
            if callable(vars(shell)[key]) and from_student(vars(shell)[key]):
                del vars(shell)[key]
                restored.append(f"IPython shell.{key}")
        if (shell.custom_exceptions, shell.CustomTB) != custom:
            shell.custom_exceptions, shell.CustomTB = custom
            restored.append("IPython custom exception handler")
        if kernel is not None:
            for key in set(vars(kernel)) - kernel_keys:
                if callable(vars(kernel)[key]) and from_student(vars(kernel)[key]):
                    del vars(kernel)[key]
                    restored.append(f"kernel.{key}")
            if any(from_student(h) for h in getattr(kernel, "shell_handlers", {}).values()):
                kernel.shell_handlers.clear()
                kernel.shell_handlers.update(shell_handlers)
                restored.append("kernel.shell_handlers")
        if (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook) != streams:
            sys.stdout, sys.stderr, sys.displayhook, sys.excepthook = streams
            restored.append("sys.stdout/stderr/displayhook/excepthook")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            sys.settrace(None)
            sys.setprofile(None)
            restored.append("sys.settrace/setprofile")
        return restored

    class Guard:
        __slots__ = ()

        def restore(self, challenge):
            """Undo tampering before a test cell; returns 'token restored,names'."""
            restored = put_back()
            restored += [f"refused: {v}" for v in state["violations"]]
            state["violations"].clear()
            state["pending_test"] = True
            token = hmac.new(secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()
            return token + " " + "|".join(restored)

        def mark(self):
            """Remember the names that set-up cells bound to protected modules and functions."""
            for key, value in list(user_ns.items()):
                if not key.startswith("_") and id(value) in pristine:
                    bindings[key] = value
            return "ok"

        def after_test(self):
            """Drop the references the test cell used, so that the student's code cannot reach them."""
            state["pending_test"] = False
            for name in [n for n in sys.modules if n.startswith(protected_prefix)]:
                del sys.modules[name]
            package, _, child = protected_prefix.rpartition(".")
            parent = sys.modules.get(package)
            if parent is not None and child in vars(parent):
                delattr(parent, child)
            for key, value in list(user_ns.items()):
                owner = getattr(value, "__name__", "") if isinstance(value, types.ModuleType) \
                    else getattr(value, "__module__", None) or getattr(type(value), "__module__", "")
                if isinstance(owner, str) and owner.startswith(protected_prefix):
                    del user_ns[key]
            return "ok"

    user_ns[f"_dlcourse_guard_{nonce}"] = Guard()
    return "installed"
