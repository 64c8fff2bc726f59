"""What the grading kernel runs of a hidden test: its driver, not its checks.

The kernel only records (`dlcourse.judging`, mode "record"): there a check of `dlcourse.testing`
does nothing and a reference is a placeholder, and the judge runs the source's own test cell
against the tape. So the kernel needs only what makes the tape: the test's inputs and every
operation on a value that came from the student's code, in order. `kernel_copy` keeps the visible
part of a test cell as released and rewrites each hidden block (`### BEGIN HIDDEN TESTS` ...
`### END HIDDEN TESTS`) from its syntax tree:

- a check of `dlcourse.testing` (`check`, `check_close`, ...), numpy's or torch's assertion, or an
  `assert` becomes the evaluation of those of its arguments the kernel must still evaluate, in
  order, never raising (a failed one fails at the judge); an assert in a `try` that catches it steers
  the test and stays; `check_shape`, whose value a test may use, keeps its first argument;
- a reference call (`ref.softmax(z)`, anything under a name bound to `dlcourse.instructor`) becomes
  the placeholder's call on the kept arguments (`ref._(...)`);
- the words of a message go: a formatted message keeps its values, a check helper of the test's
  own (`check_trajectory`, `_same`) and `hint=` lose their sentences, `raise AssertionError(...)`
  its text; a branch that runs only outside the kernel (`if mode() != "record":`) is emptied;
- an assignment, function or loop that nothing reads (not the driver, not the rest of the notebook:
  `elsewhere`, which includes the globals the student's code reads), made only of the test's own
  values with pure calls, is gone (an expected value, a reference training loop), and so are
  comments and string statements.

What the kernel must still evaluate: any expression that reads a value from the student's code
("tainted": an exercise, a name neither the cell binds from the test's own values nor the set-up
cells bind, or one bound from a tainted value), whole, because every operation on a recorded object
(`len`, iteration, `==`, formatting) is an event of the tape; and any call not known to be pure
(numpy's and math's functions without `out=` or a random draw, listed builtins and array methods,
a generator seeded on the spot, the block's own pure functions), so that the kernel's inputs stay
the judge's. A check's comparison keeps only its sides' evaluation, whatever they hold: comparing makes no
event (library values compare in place, a recorded object by identity: `judging.PROXY_PRIORITY`), so
`small.count_params() == 7 * 10 + 10 + 55 + 6` sends `small.count_params()` alone, and `"relu" in kinds`
sends `judging.iterated(kinds)` (the `iter` event `in` makes on a recorded object). A check's condition
is evaluated for its truth (`bool(losses)`), each part of its `and` too, and an `all(... for ...)` there
for each element's truth (`all(...) is False` stays whole: it passes when `all` stops early). A
comparison that steers (an `if`, a comprehension's filter, a chain whose later sides the judge may skip)
stays whole.

A hidden block the rewriting does not handle (a marker not at the start of its line, syntax that does
not parse, `match`, `global`, a check inside a class, a driver that does not compile, a condition
the driver would decide on a reference's placeholder: an `if`, a loop, an `and`/`or`) raises
`DriverError`; `worker.undriven_sources` refuses such an assignment before anyone is graded. The
fixtures run the same copy (`instructor.fixtures`).
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re

CHECKS = frozenset({"check", "check_close", "check_shape", "check_finite", "check_unchanged", "check_answer",
                    "check_choice", "check_number", "check_type"})
HIDDEN_BLOCK = re.compile(r"^### BEGIN HIDDEN TESTS\n(.*?)^### END HIDDEN TESTS$", re.S | re.M)
INSTRUCTOR = "dlcourse.instructor"

# names that hold no value of the student's: the builtins and the libraries' usual aliases
LIBRARIES = frozenset({"np", "numpy", "math", "torch", "nn", "F", "keras", "tf", "pd", "warnings", "copy", "random",
                       "tempfile", "Path", "Image", "mode", "show", "describe"})
PURE_CALLS = frozenset({"abs", "all", "any", "bool", "dict", "enumerate", "float", "format", "int", "isinstance",
                        "len", "list", "max", "min", "range", "repr", "round", "set", "show", "sorted", "str", "sum",
                        "tuple", "type", "zip", "getattr", "hasattr", "describe", "mode", "map", "reversed"})
PURE_METHODS = frozenset({"all", "any", "argmax", "argmin", "astype", "copy", "cpu", "detach", "double", "flatten",
                          "float", "format", "get", "item", "items", "keys", "max", "mean", "min", "numpy", "ravel",
                          "reshape", "squeeze", "std", "sum", "tolist", "values", "count", "join", "clone", "abs",
                          "transpose", "T", "view", "unsqueeze", "exp", "log", "sqrt", "round", "clip"})
PURE_MODULES = frozenset({"np", "numpy", "math"})  # not torch: its layers and `*_like` draws use a shared generator
RANDOM = frozenset({"random", "rand", "randn", "randint", "randperm", "manual_seed", "seed", "normal", "bernoulli",
                    "multinomial", "set_rng_state", "default_rng", "RandomState", "uniform", "poisson", "shuffle",
                    "permutation", "choice", "dropout"})
# numpy's functions that change their argument or numpy's state
NUMPY_CHANGES = frozenset({"fill_diagonal", "copyto", "put", "place", "putmask", "put_along_axis", "seterr",
                           "set_printoptions", "setbufsize", "seterrcall", "errstate", "testing", "random", "save",
                           "savez", "savetxt", "lib", "ctypeslib"})
FRESH_DRAWS = frozenset({"normal", "standard_normal", "uniform", "integers", "random", "choice", "permutation",
                         "rand", "randn", "randint", "binomial", "poisson", "beta", "exponential"})
LIBRARY_CHECKS = re.compile(r"^(np|numpy)\.testing\.assert_\w+$|^torch\.testing\.assert_close$")
CHECK_HELPER = re.compile(r"^_?check_\w+$|^_same$")


class DriverError(ValueError):
    """A hidden block the driver cannot be made of (the instructor's source, never a student's)."""


def kernel_copy(source: str, exercises=(), known=(), elsewhere=()) -> str:
    """`source` (a test cell) with each hidden block reduced to its driver (see the module's docstring).
    `exercises`: the notebook's exercise names (values from them are the student's); `known`: the names
    its set-up cells bind (`known_names`: the instructor's data and helpers); `elsewhere`: the names the
    notebook's other cells read (`read_elsewhere`: an assignment to one of them is never dropped).

    A function of its arguments alone, kept per process: a grading worker grades a class against one
    source, so each test cell's driver is made once, not once per student (0.3 s a notebook of 01)."""
    return _kernel_copy(source, frozenset(exercises), frozenset(known), frozenset(elsewhere))


@functools.lru_cache(maxsize=1024)
def _kernel_copy(source: str, exercises: frozenset[str], known: frozenset[str], elsewhere: frozenset[str]) -> str:
    blocks = HIDDEN_BLOCK.findall(source)
    if sum(line.count("HIDDEN TESTS") for line in source.splitlines()) != 2 * len(blocks):
        raise DriverError("a hidden-test marker that is not a line of its own at the start of the line "
                          "(`### BEGIN HIDDEN TESTS`, `### END HIDDEN TESTS`)")
    try:  # which names hold the test's own values, read from the whole cell when it parses
        whole = ast.parse(source)
    except SyntaxError:  # IPython syntax in the visible part: the hidden blocks alone
        whole = None
    visible = _loads(ast.parse(HIDDEN_BLOCK.sub("", source))) if whole is not None else set()
    outside = set(elsewhere) | visible
    try:
        return HIDDEN_BLOCK.sub(lambda m: _driver(m.group(1), set(exercises), set(known), whole, outside), source)
    except RecursionError:  # an expression nested thousands deep
        raise DriverError("a hidden block nested too deep to rewrite") from None


def driver_only(source: str, exercises=(), known=(), elsewhere=()) -> str:
    """What replaces the hidden blocks of test cell `source` in the kernel: `kernel_copy` without the
    visible parts, which reach the kernel as released."""
    copy = kernel_copy(source, exercises, known, elsewhere)
    for part in HIDDEN_BLOCK.split(source)[::2]:
        copy = copy.replace(part, "\n", 1)
    return copy


def _by_content(fn):
    """`fn(nb)` kept per process by the notebook's code cells (source and metadata): a worker reads the
    same source notebook for every student of a class."""
    cache: dict = {}

    @functools.wraps(fn)
    def wrapper(nb):
        key = tuple((c.get("source"), json.dumps(c.get("metadata", {}), sort_keys=True, default=str))
                    for c in nb.cells if c.get("cell_type") == "code")
        if key not in cache:
            if len(cache) >= 64:
                cache.clear()
            cache[key] = fn(nb)
        value = cache[key]
        return dict(value) if isinstance(value, dict) else value

    return wrapper


@_by_content
def known_names(nb) -> frozenset[str]:
    """The names the notebook's set-up cells bind at top level and no test cell binds again: values of the
    instructor's (data, helpers), which hold nothing of the student's in an honest kernel (a student who
    rebinds one only makes the kernel's recording differ from the judge's, which fails that test)."""
    from ..cells import is_setup_cell, is_test_cell

    setup, tests = set(), set()
    for cell in nb.cells:
        if not (is_setup_cell(cell) or is_test_cell(cell)):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython syntax: its names stay unknown (the student's, to be safe)
            continue
        (tests if is_test_cell(cell) else setup).update(_top_level_names(tree.body))
    return frozenset(setup - tests)


def _top_level_names(body: list[ast.stmt]) -> set[str]:
    """The names a cell binds in its own namespace (not a function's locals or a comprehension's)."""
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                names |= _stores(target)
        elif isinstance(stmt, ast.For | ast.AsyncFor | ast.With | ast.AsyncWith | ast.If | ast.While | ast.Try):
            names |= _stores(stmt.target) if isinstance(stmt, ast.For | ast.AsyncFor) else set()
            for item in getattr(stmt, "items", []):
                names |= _stores(item.optional_vars) if item.optional_vars is not None else set()
            for field in ("body", "orelse", "finalbody"):
                names |= _top_level_names(getattr(stmt, field, []))
            for handler in getattr(stmt, "handlers", []):
                names |= _top_level_names(handler.body) | ({handler.name} if handler.name else set())
    return names


@_by_content
def read_elsewhere(nb) -> dict[str, frozenset[str]]:
    """For each test cell (by grade_id): the names any other code cell of the notebook reads (set-up,
    solutions, demos, the other test cells with their hidden blocks). A cell that does not parse (IPython
    syntax) counts with every identifier in it."""
    from ..cells import is_test_cell

    reads = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            names = _loads(ast.parse(cell.source))
        except SyntaxError:
            names = set(re.findall(r"[A-Za-z_]\w*", cell.source))
        reads.append((cell, names))
    out = {}
    for cell, _ in reads:
        if is_test_cell(cell):
            out[cell.metadata["nbgrader"]["grade_id"]] = frozenset().union(
                *(names for other, names in reads if other is not cell))
    return out


def _driver(block: str, exercises: set[str], known: set[str], whole: ast.Module | None, outside: set[str]) -> str:
    try:
        tree = ast.parse(block)
    except SyntaxError as exc:
        raise DriverError(f"a hidden block that is not plain Python (line {exc.lineno}: {exc.msg})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Match | ast.TryStar | ast.Global | ast.Nonlocal):
            raise DriverError(f"a hidden block with `{type(node).__name__.lower()}`, which its driver does not handle")
    refs = _reference_names(whole or tree)
    clean = _clean_names(whole or tree, refs, exercises, known)
    reducer = _Reducer(refs, clean, tree)
    body = _without_dead_code(reducer.statements(tree.body), reducer, outside)
    branch = _branch_on_reference(body, reducer)
    if branch is not None:
        raise DriverError(f"a hidden block decides on a reference's value (`{branch[:80]}`): in the kernel a reference "
                          "is a placeholder, so the kernel would take another branch than the judge; compare it in a "
                          "check instead")
    text = ast.unparse(ast.Module(body=body, type_ignores=[])) if body else ""
    text += "\n" if text else ""
    try:
        compile(text, "<driver>", "exec")
    except SyntaxError as exc:
        raise DriverError(f"the driver of a hidden block does not compile ({exc.msg})") from None
    return text


def _branch_on_reference(body: list[ast.stmt], reducer: _Reducer) -> str | None:
    """The first condition of the driver that reads a reference's placeholder (`ref._(...)`) or a name bound
    from one, and decides whether code the kernel must run (`reducer.needed`: a student's value read, state
    changed) runs: an `if`, `while` or `x if c else y`, an `and`/`or` operand, a loop's or a comprehension's
    iterable (not a literal: its length is the judge's too) or `if`, a statement inside a `try` that catches
    (it may raise). Code that matters reads a student's value, changes state, or breaks, continues, returns
    or raises. None when there is none."""
    module = ast.Module(body=body, type_ignores=[])

    def reads(expr: ast.AST, derived: set[str]) -> bool:  # a reference's call, placeholder or not, or a name
        return any((isinstance(n, ast.Call) and reducer.is_reference(n.func))
                   or (isinstance(n, ast.Name) and n.id in derived) for n in ast.walk(expr))

    def matters(region: list[ast.AST]) -> bool:  # a name bound from a placeholder holds nothing of the student's
        return any(isinstance(n, ast.Break | ast.Continue | ast.Return | ast.Raise)  # what runs after changes
                   or (isinstance(n, ast.expr) and (_student_names(n, reducer.clean | derived) or not reducer.pure(n)))
                   for part in region for n in ast.walk(part))

    def loop_conditions(loop) -> list[ast.expr]:  # a literal's length is fixed, unless it unpacks (`[*xs]`)
        literal = isinstance(loop.iter, ast.Tuple | ast.List) and not any(
            isinstance(e, ast.Starred) for e in loop.iter.elts)
        return ([] if literal else [loop.iter]) + list(getattr(loop, "ifs", []))

    derived: set[str] = set()
    while True:  # the names bound from a placeholder, or from such a name
        more = set().union(*(targets for targets, value in _value_bindings(module) if reads(value, derived)))
        if not more - derived:
            break
        derived |= more
    for node in ast.walk(module):
        decisions: list[tuple[ast.expr, list]] = []
        if isinstance(node, ast.If | ast.While):
            decisions = [(node.test, node.body + node.orelse)]
        elif isinstance(node, ast.IfExp):
            decisions = [(node.test, [node.body, node.orelse])]
        elif isinstance(node, ast.BoolOp):
            decisions = [(value, node.values[i + 1:]) for i, value in enumerate(node.values[:-1])]
        elif isinstance(node, ast.For | ast.AsyncFor):
            decisions = [(c, node.body + node.orelse) for c in loop_conditions(node)]
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            produced = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            decisions = [(c, produced + node.generators[i + 1:]) for i, gen in enumerate(node.generators)
                         for c in loop_conditions(gen)]
        elif isinstance(node, ast.Try | ast.TryStar):  # whatever may raise in a `try` that catches steers the test
            rest = node.body + node.handlers + node.orelse + node.finalbody
            decisions = [(stmt, rest) for stmt in node.body]
        for condition, region in decisions:
            if reads(condition, derived) and matters(region):
                return ast.unparse(condition)
    return None


def _value_bindings(tree: ast.AST):
    """(names, value) for each place the driver binds a name from a value; a loop over a literal of
    same-length tuples binds each target from its own column (`for kind, num in (("W", n[0]), ...)`). A
    container stored into (`d[k] = v`, `ns.x = v`) or given a value by a method (`xs.append(v)`) is bound
    from it, and so are the parameters of the block's own function or lambda from its defaults and from
    every argument it is called with."""
    functions: dict[str, ast.AST] = {}
    containers: set[str] = set()  # names the block binds to a value of its own (not a module's name)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            functions.update((name, node.value) for t in node.targets for name in _stores(t))
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.For | ast.comprehension):
            containers |= set().union(*(_stores(t) for t in getattr(node, "targets", [getattr(node, "target", None)])
                                        if t is not None))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            positional = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
            for name, default in zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults,
                                     strict=True):
                yield {name}, default
            for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
                if default is not None:
                    yield {arg.arg}, default
        elif isinstance(node, ast.Call):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Name) and node.func.id in functions:
                function = functions[node.func.id].args
                positional = [a.arg for a in [*function.posonlyargs, *function.args]]
                for i, arg in enumerate(node.args):  # each argument to its parameter; `*args` to them all
                    names = set(positional[i:i + 1]) if i < len(positional) and not isinstance(arg, ast.Starred) \
                        else _params(functions[node.func.id])
                    yield names, arg
                for keyword in node.keywords:
                    yield ({keyword.arg} if keyword.arg else _params(functions[node.func.id])), keyword.value
            elif isinstance(node.func, ast.Attribute) and _root(node.func) in containers and arguments:
                yield {_root(node.func)}, ast.Tuple(elts=arguments, ctx=ast.Load())
            elif isinstance(node.func, ast.Name) and node.func.id == "setattr" and len(node.args) == 3 \
                    and _root(node.args[0]):
                yield {_root(node.args[0])}, node.args[2]
    for node in ast.walk(tree):
        if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            rows, target = node.iter, node.target
            columns = isinstance(target, ast.Tuple | ast.List) and len(target.elts)
            if isinstance(rows, ast.Tuple | ast.List) and columns and all(
                    isinstance(r, ast.Tuple | ast.List) and len(r.elts) == columns for r in rows.elts):
                for i, part in enumerate(target.elts):
                    yield _stores(part), ast.Tuple(elts=[r.elts[i] for r in rows.elts], ctx=ast.Load())
            else:
                yield _stores(target), rows
        else:
            yield from _assignment_bindings(node)


def _reference_names(tree: ast.AST) -> set[str]:
    """Names the block binds to the instructor's package (`from dlcourse.instructor import ref_keras as ref`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(INSTRUCTOR):
            names.update(alias.asname or alias.name for alias in node.names)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and ast.unparse(node.value.func).split(".")[-1] == "reference":  # `ref = reference("ref_keras")`
            names |= set().union(*(_stores(t) for t in node.targets))
    return names


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call | ast.Starred):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _assignment_bindings(node: ast.AST):
    """(targets, value) of an assignment, a walrus or a `with ... as`: a container stored into (`d[k] = v`,
    `obj.x = v`) now holds the value too."""
    if isinstance(node, ast.Assign):
        yield set().union(*(_stores(t) for t in node.targets)), node.value
        for target in node.targets:
            if isinstance(target, ast.Attribute | ast.Subscript) and _root(target):
                yield {_root(target)}, node.value
    elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
        yield _stores(node.target) | ({_root(node.target)} if _root(node.target) else set()), node.value
    elif isinstance(node, ast.NamedExpr):
        yield {node.target.id}, node.value
    elif isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                yield _stores(item.optional_vars), item.context_expr


def _bindings(tree: ast.AST):
    """(targets, value) for every place the block binds a name: the value a tainted one taints them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.NamedExpr | ast.With | ast.AsyncWith):
            yield from _assignment_bindings(node)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            yield _stores(node.target), node.iter
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield _params(node), ast.Name(id="<argument>", ctx=ast.Load())  # a parameter may be given anything
            if not isinstance(node, ast.Lambda):
                yield {node.name}, node  # a function that uses a tainted value is tainted
        elif isinstance(node, ast.ClassDef):
            yield {node.name}, node
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield {node.name}, ast.Name(id="<exception>", ctx=ast.Load())
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Attribute) and _root(node.value.func):
            yield {_root(node.value.func)}, node.value  # `cases.append(x)`: the list now holds x


def _clean_names(tree: ast.AST, refs: set[str], exercises: set[str], known: set[str]) -> set[str]:
    """The names that hold only the test's own values: the libraries and builtins the cell does not
    rebind, imported names (not an exercise), the set-up cells' names, and names bound only from such
    values, never from the student's code (a fixed point over the cell)."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            imported.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    bindings = list(_bindings(tree))
    bound = {n for targets, _ in bindings for n in targets}
    ambient = (LIBRARIES | set(dir(builtins))) - bound - exercises  # `sum = Value(1)` rebinds a builtin
    clean = (bound | imported | refs | known | ambient) - exercises
    changed = True
    while changed:
        changed = False
        for targets, value in bindings:
            if targets & clean and _holds_student_value(value, clean, refs):
                clean -= targets
                changed = True
    return clean


def _student_names(node: ast.AST, clean: set[str]) -> set[str]:
    """The names `node` reads when it is evaluated that may hold a value of the student's (`clean`: the
    names that do not). A lambda's body counts without its parameters: it may run while `node` is."""
    if isinstance(node, ast.Lambda):
        defaults = [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
        return set().union(_student_names(node.body, clean) - _params(node),
                           *(_student_names(d, clean) for d in defaults))
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return set() if node.id in clean else {node.id}
    return set().union(set(), *(_student_names(child, clean) for child in ast.iter_child_nodes(node)))


def _holds_student_value(node: ast.AST, clean: set[str], refs: set[str]) -> bool:
    """Whether the value of `node` may be, or call, the student's code. A reference's result is the
    judge's (a placeholder in the kernel), and a few builtins' results and numpy's conversions with a
    dtype are library values whatever they were given (`len(h)`, `np.asarray(losses, dtype=float)`)."""
    if isinstance(node, ast.Call) and (_root(node.func) in refs or _library_result(node)):
        return False
    if isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        # a function (or class) is the student's when its body reads a student's value it was not given,
        # or its defaults and decorators hold one
        body = node.body if isinstance(node.body, list) else [node.body]
        local = _params(node) | _stores(node)
        outer = [*getattr(node, "decorator_list", [])]
        if not isinstance(node, ast.ClassDef):
            outer += [d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None]
        return any(_student_names(part, clean) - local for part in body) \
            or any(_student_names(part, clean) for part in outer)
    if isinstance(node, ast.Name):
        return bool(_student_names(node, clean))
    return any(_holds_student_value(child, clean, refs) for child in ast.iter_child_nodes(node)
               if isinstance(child, ast.expr | ast.stmt | ast.comprehension | ast.keyword | ast.arguments))


def _params(node: ast.AST) -> set[str]:
    args = getattr(node, "args", None)
    if not isinstance(args, ast.arguments):
        return set()
    return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                            *([args.vararg] if args.vararg else []), *([args.kwarg] if args.kwarg else [])]}


# builtins whose result is a number, a string or a bool of the language's own, whatever they are given
# (Python refuses anything else from `__len__`, `__float__`, `__bool__`...), and the course's float helpers
LIBRARY_RESULTS = frozenset({"float", "int", "len", "bool", "str", "isinstance", "type", "hasattr", "repr", "format",
                             "rel_error", "norm_rel_error"})


def _library_result(call: ast.Call) -> bool:
    """A call whose result is a library value: a builtin above, or a numpy conversion with a dtype."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in LIBRARY_RESULTS
    return isinstance(func, ast.Attribute) and ast.unparse(func) in ("np.asarray", "np.array", "numpy.asarray",
                                                                      "numpy.array") \
        and any(k.arg == "dtype" for k in call.keywords)


def _catches_assertions(stmt: ast.Try) -> bool:
    """A `try` whose handlers catch a failed assert: there an assert steers the test, and must raise."""
    for handler in stmt.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if handler.type is None or any(isinstance(k, ast.Name) and k.id in ("AssertionError", "Exception",
                                                                               "BaseException") for k in kinds):
            return True
    return False


class _Reducer:
    def __init__(self, refs: set[str], clean: set[str], tree: ast.AST | None = None):
        self.refs, self.clean = refs, clean
        self.steering = 0  # inside a `try` that catches a failed assert: asserts and checks raise there
        self.pure_functions: set[str] = set()
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] if tree is not None else []
        changed = True
        while changed:  # a function of the block's own whose body changes only its own locals
            changed = False
            for fn in defs:
                if fn.name not in self.pure_functions and not fn.decorator_list and self._pure_body(fn):
                    self.pure_functions.add(fn.name)
                    changed = True

    def _pure_body(self, fn: ast.FunctionDef) -> bool:
        local = _stores(fn) - _params(fn)  # made inside: changing them changes nothing outside
        for node in ast.walk(fn):
            if isinstance(node, ast.Global | ast.Nonlocal | ast.Yield | ast.YieldFrom | ast.Await):
                return False
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _root(node.func) in local:
                continue
            if isinstance(node, ast.Call) and not self.pure(ast.Expr(value=node), shallow=True):
                return False
            if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store) \
                    and _root(node) not in local:
                return False
        return True

    # -- what an expression may do -----------------------------------------------------------------
    def is_reference(self, node: ast.AST) -> bool:
        return _root(node) in self.refs

    def is_reference_call(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and self.is_reference(node.func)

    def is_check(self, node: ast.AST) -> bool:
        """A check of `dlcourse.testing` (nothing in the kernel), or numpy's or torch's assertion outside a
        `try` that catches it (in the kernel it need not raise: a failed one fails at the judge)."""
        if not isinstance(node, ast.Call):
            return False
        if isinstance(node.func, ast.Name):
            return node.func.id in CHECKS
        return not self.steering and bool(LIBRARY_CHECKS.match(ast.unparse(node.func)))

    def holds_student_value(self, node: ast.AST) -> bool:
        return _holds_student_value(node, self.clean, self.refs)

    def truth(self, node: ast.expr) -> list[ast.expr]:
        """What the kernel evaluates of a condition: its parts, and its truth when that is a student's
        object's to say (`bool(losses)` calls `len` on a recorded deque)."""
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):  # each part's truth, all of them
            return [part for value in node.values for part in self.truth(value)]
        inner = self.all_of(node)
        if inner is not None:
            return self.all_parts(inner)
        if self.holds_student_value(node) and not isinstance(node, ast.Compare):  # a comparison's truth is a
            return [ast.Call(func=ast.Name(id="bool", ctx=ast.Load()), args=[self.expression(node)], keywords=[])]
        return self.parts(node)  # library value's (its value a bool or an array, `judging.PROXY_PRIORITY`)

    def tainted(self, node: ast.AST) -> bool:
        """Whether evaluating `node` reads a value of the student's (each read may be an event)."""
        return bool(_student_names(node, self.clean))

    def pure(self, node: ast.AST, shallow: bool = False) -> bool:
        """Whether evaluating `node` changes nothing and draws no random number: only names, constants,
        operators, attributes and items of the test's own values, the pure calls listed above and the
        block's own pure functions (`shallow`: the call at the top of `node` only)."""
        for sub in (ast.walk(node) if not shallow else [node.value]):
            if isinstance(sub, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom):
                return False
            if not isinstance(sub, ast.Call) or self.is_reference(sub.func):
                continue
            func = sub.func
            if any(k.arg == "out" for k in sub.keywords):  # numpy writes into an argument
                return False
            if isinstance(func, ast.Name) and (func.id in PURE_CALLS or func.id in self.pure_functions):
                continue
            if _fresh_generator(sub):  # a generator of its own, seeded here: no shared state
                continue
            if isinstance(func, ast.Attribute) and not func.attr.endswith("_"):  # `zero_()`, `constant_()`
                chain = set(ast.unparse(func).split("."))
                if _root(func) in PURE_MODULES and not chain & (RANDOM | NUMPY_CHANGES):
                    continue
                if func.attr in PURE_METHODS and not chain & RANDOM:
                    continue
            return False
        return True

    def needed(self, node: ast.expr) -> bool:
        """Whether the kernel must evaluate `node`: it reads a student's value or may change state."""
        return self.tainted(node) or not self.pure(node)

    # -- expressions -----------------------------------------------------------------------------------
    def parts(self, node: ast.expr) -> list[ast.expr]:
        """What the kernel must evaluate of a check's or a reference's argument `node`, in order."""
        if isinstance(node, ast.Starred):  # `*pair`: iterating it is what the call did
            return [ast.List(elts=[self.expression(node)], ctx=ast.Load())] if self.needed(node) else []
        if self.is_check(node) and isinstance(node.func, ast.Name) and node.func.id == "check" and node.args:
            # `check(condition, ...)`: the judge takes the condition's truth, and only a passing one matters
            rest = [*node.args[1:], *(k.value for k in node.keywords)]
            return self.truth(node.args[0]) + [part for arg in rest for part in self.parts(arg)]
        if self.is_check(node) or self.is_reference_call(node):
            return [part for arg in [*node.args, *(k.value for k in node.keywords)] for part in self.parts(arg)]
        if not self.needed(node) or isinstance(node, ast.Name):  # reading a name is no event
            return []
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            # all of a check's `a and b` is evaluated when the answer passes, which is when the tape
            # matters (a failing one fails at the judge's check): the kernel cannot tell, a reference being
            # a placeholder there, so it evaluates every part, and the truth of all but the last
            return [part for value in node.values[:-1] for part in self.truth(value)] + self.parts(node.values[-1])
        if isinstance(node, ast.Compare) and not any(self.needed(side) for side in node.comparators[1:]):
            return self.comparison(node)
        if isinstance(node, ast.JoinedStr):  # a message: its words go, the values the kernel needs stay
            return [_wordless(ast.JoinedStr(values=[self.expression(v) for v in node.values
                                                    if isinstance(v, ast.FormattedValue) and self.needed(v.value)]))]
        return [self.expression(node)]

    def comparison(self, node: ast.Compare) -> list[ast.expr]:
        """What the kernel evaluates of a check's comparison: its first two sides. Comparing makes no event
        (library values compare in place; a recorded object by identity, `judging.PROXY_PRIORITY`), so the
        other side of `got == [20, 50]` stays with the judge; only `in` iterates a recorded object, which
        `judging.iterated` does without the other side. A chain's later sides may not run in the judge
        (`a < b < c` stops when `a < b` is false): the caller keeps a chain whole when one is needed."""
        left, right, op = node.left, node.comparators[0], node.ops[0]
        if isinstance(op, ast.In | ast.NotIn) and self.holds_student_value(right):
            helper = ast.parse("__import__('dlcourse.judging').judging.iterated", mode="eval").body
            return self.parts(left) + [ast.Call(func=helper, args=[self.expression(right)], keywords=[])]
        return self.parts(left) + self.parts(right)

    def all_of(self, node: ast.expr) -> ast.expr | None:
        """The argument of a check's `all(... for ...)`, `np.all(a == b)`, `np.any(a == b)` or `(a == b).all()`,
        else None (numpy's evaluate the whole comparison)."""
        if not isinstance(node, ast.Call) or node.keywords:
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id == "all" and "all" in self.clean and len(node.args) == 1 \
                and isinstance(node.args[0], ast.GeneratorExp | ast.ListComp):
            return node.args[0]
        if ast.unparse(func) in ("np.all", "numpy.all", "np.any", "numpy.any") and len(node.args) == 1 \
                and isinstance(node.args[0], ast.Compare):
            return node.args[0]
        if isinstance(func, ast.Attribute) and func.attr == "all" and not node.args \
                and isinstance(func.value, ast.Compare):
            return func.value
        return None

    def all_parts(self, inner: ast.expr) -> list[ast.expr]:
        """What the kernel evaluates of `all(...)` that is a check's condition (or one of its `and`'s parts,
        `truth`): each element's truth, all of them. The judge's `all` stops at the first false one, and then
        the check fails and the tape no longer matters; anywhere else (`all(...) is False`) `all` stays whole.
        `inner`: what `all_of` found."""
        if isinstance(inner, ast.Compare):  # a comparison's result is a library value: no event
            return self.parts(inner)
        elt = ast.Tuple(elts=self.truth(inner.elt), ctx=ast.Load())
        generators = [_Rewrite(self).visit(g) for g in inner.generators]
        return [ast.ListComp(elt=elt, generators=generators)] if elt.elts or self.needed(inner) else []

    def expression(self, node: ast.expr) -> ast.expr:
        """`node` as it is evaluated, with the instructor's text taken out where no event depends on it."""
        return _Rewrite(self).visit(node)

    def placeholder_call(self, call: ast.Call) -> ast.Call:
        """`ref._(kept arguments)`: the reference's call as the kernel evaluates it."""
        args = [part for arg in [*call.args, *(k.value for k in call.keywords)] for part in self.parts(arg)]
        func = ast.Attribute(value=ast.Name(id=_root(call.func), ctx=ast.Load()), attr="_", ctx=ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    # -- statements ------------------------------------------------------------------------------------
    def statements(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            out += self.statement(stmt)
        return out

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return self.statements(body) or [ast.Pass()]

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:  # noqa: PLR0911 - one return per kind of statement
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            if isinstance(value, ast.Constant):  # a docstring or a string statement
                return []
            if self.is_check(value) or self.is_reference_call(value) or not self.needed(value):
                return [ast.Expr(value=part) for part in self.parts(value)]
            return [ast.Expr(value=self.expression(value))]
        if isinstance(stmt, ast.Assert):
            if self.steering:  # it steers a `try`: it must raise where the judge's does
                msg = _wordless(self.expression(stmt.msg)) if stmt.msg is not None and self.needed(stmt.msg) else None
                return [ast.Assert(test=self.expression(stmt.test), msg=msg)]
            # as a check: evaluated, with its truth, never raising (a failed one fails at the judge)
            return [ast.Expr(value=part) for part in self.truth(stmt.test)]
        if isinstance(stmt, ast.Raise):
            if isinstance(stmt.exc, ast.Call):  # its words stay with the judge
                args = [_wordless(self.expression(a)) for a in stmt.exc.args if self.needed(a)]
                stmt.exc = ast.Call(func=stmt.exc.func, args=args, keywords=[])
            return [stmt]
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value is not None:
            stmt.value = self.expression(stmt.value)
            return [stmt]
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            body = stmt.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            stmt.body = self.block(body)
            stmt.decorator_list = [self.expression(d) for d in stmt.decorator_list]
            return [stmt]
        if isinstance(stmt, ast.If):
            runs = _runs_in_kernel(stmt.test)
            stmt.body = self.block(stmt.body) if runs is not False else [ast.Pass()]
            stmt.orelse = self.statements(stmt.orelse) if runs is not True else []
            if _empty(stmt.body) and not stmt.orelse:  # nothing left to run: only its condition, if needed
                return [ast.Expr(value=part) for part in self.truth(stmt.test)]
            stmt.test = self.expression(stmt.test)
            return [stmt]
        if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
            head = stmt.test if isinstance(stmt, ast.While) else stmt.iter
            stmt.body, stmt.orelse = self.block(stmt.body), self.statements(stmt.orelse)
            if _empty(stmt.body) and not stmt.orelse and not self.needed(head) \
                    and not isinstance(stmt, ast.While):  # a loop over the test's own values that does nothing
                return []
            if isinstance(stmt, ast.While):
                stmt.test = self.expression(stmt.test)
            else:
                stmt.iter = self.expression(stmt.iter)
            return [stmt]
        if isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                item.context_expr = self.expression(item.context_expr)
            stmt.body = self.block(stmt.body)
            return [stmt]
        if isinstance(stmt, ast.Try):
            steers = _catches_assertions(stmt)
            self.steering += steers
            stmt.body = self.block(stmt.body)
            self.steering -= steers
            stmt.orelse = self.statements(stmt.orelse)
            stmt.finalbody = self.statements(stmt.finalbody)
            if not stmt.handlers and not stmt.finalbody:
                stmt.finalbody = [ast.Pass()]  # `try:` needs one or the other
            for handler in stmt.handlers:
                handler.body = self.block(handler.body)
            return [stmt]
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            stmt.value = self.expression(stmt.value)
            return [stmt]
        checked = isinstance(stmt, ast.ClassDef) and any(self.is_check(n) or self.is_reference_call(n)
                                                         for n in ast.walk(stmt))
        if checked:
            raise DriverError(f"a check or a reference inside the class {stmt.name} of a hidden block: "
                              "a class there is an input (a stand-in); check outside it")
        return [stmt]  # imports, del, pass, break, class definitions (a stand-in handed to the student's code)


class _Rewrite(ast.NodeTransformer):
    """Inside an expression the kernel evaluates: a reference call becomes the placeholder's, a check
    its kept arguments' evaluation (`check_shape` keeps its first), and a check helper of the test's
    own and `hint=` lose their sentences. Nothing an event depends on changes."""

    def __init__(self, reducer: _Reducer):
        self.reducer = reducer

    def visit_Call(self, node: ast.Call) -> ast.expr:  # noqa: N802 - ast's visitor names
        reducer = self.reducer
        if reducer.is_reference_call(node):
            return reducer.placeholder_call(node)
        if reducer.is_check(node):
            if isinstance(node.func, ast.Name) and node.func.id == "check_shape" and node.args:
                # its value is the array the test goes on with; the rest is evaluated, not passed
                first = self.visit(node.args[0])
                rest = [p for a in [*node.args[1:], *(k.value for k in node.keywords)] for p in reducer.parts(a)]
                return ast.Call(func=node.func, args=[first, ast.Tuple(rest, ast.Load()), ast.Constant("")],
                                keywords=[])
            kept = reducer.parts(node)  # evaluated in order; the value is the check's in the kernel, None
            return ast.Subscript(value=ast.Tuple(elts=[*kept, ast.Constant(None)], ctx=ast.Load()),
                                 slice=ast.Constant(-1), ctx=ast.Load())
        self.generic_visit(node)
        helper = isinstance(node.func, ast.Name) and CHECK_HELPER.match(node.func.id)
        if helper:
            node.args = [_wordless(a) for a in node.args]
        for keyword in node.keywords:
            if helper or keyword.arg == "hint":
                keyword.value = _wordless(keyword.value)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:  # noqa: N802
        if self.reducer.is_reference(node):
            return ast.Attribute(value=ast.Name(id=_root(node), ctx=ast.Load()), attr="_", ctx=ast.Load())
        self.generic_visit(node)
        return node


def _fresh_generator(call: ast.Call) -> bool:
    """`np.random.default_rng(seed)` or `np.random.RandomState(seed)`, or a method called on one at once:
    a generator of its own, so its draws change no state the rest of the test reads (not `shuffle`, which
    changes what it is given)."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        if func.attr not in FRESH_DRAWS:
            return False
        func = func.value.func
    return isinstance(func, ast.Attribute) and ast.unparse(func) in (
        "np.random.default_rng", "numpy.random.default_rng", "np.random.RandomState", "numpy.random.RandomState")


def _empty(body: list[ast.stmt]) -> bool:
    return all(isinstance(s, ast.Pass) for s in body)


def _wordless(node: ast.expr) -> ast.expr:
    """A message argument without its sentences: a string of three words or more becomes "", an
    f-string keeps only the values it formats."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value.split()) >= 3:
        return ast.Constant("")
    if isinstance(node, ast.JoinedStr):
        return _Untexted().visit(ast.JoinedStr(values=[v for v in node.values if isinstance(v, ast.FormattedValue)]))
    return node


class _Untexted(ast.NodeTransformer):
    """A formatted value's alternatives without their words (`n if ok else 'an unbuilt model'`)."""

    def visit_IfExp(self, node: ast.IfExp) -> ast.IfExp:  # noqa: N802 - ast's visitor names
        self.generic_visit(node)
        for side in ("body", "orelse"):
            value = getattr(node, side)
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                setattr(node, side, ast.Constant(""))
        return node


def _runs_in_kernel(test: ast.expr) -> bool | None:
    """True or False for `mode() == "record"`, `mode() != "record"`, `mode() == "local"`... (the kernel
    records); None for any other condition."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Call)
            and isinstance(test.left.func, ast.Name) and test.left.func.id == "mode" and not test.left.args
            and isinstance(test.comparators[0], ast.Constant)):
        return None
    same = test.comparators[0].value == "record"
    return same if isinstance(test.ops[0], ast.Eq) else (not same if isinstance(test.ops[0], ast.NotEq) else None)


def _without_dead_code(body: list[ast.stmt], reducer: _Reducer, outside: set[str]) -> list[ast.stmt]:
    """Drop, until none is left, an assignment or function definition (at any depth) whose names
    nothing in the driver reads, when making it does nothing the tape could see (a value of the test's
    own made with pure calls, a function not called). `outside`: the names the rest of the notebook reads
    (its visible part, other cells, the student's code through its globals): never dropped."""
    while True:
        module = ast.Module(body=body, type_ignores=[])
        read = _loads(module) | outside
        dropped = _DropDead(read, reducer)
        module = dropped.visit(module)
        body = module.body
        if not dropped.changed:
            return body


class _DropDead(ast.NodeTransformer):
    def __init__(self, read: set[str], reducer: _Reducer):
        self.read, self.reducer, self.changed = read, reducer, False

    def _dead(self, stmt: ast.stmt) -> bool:
        names = _defines_only(stmt)
        if not names or names & self.read:
            return False
        if isinstance(stmt, ast.FunctionDef):  # defining it runs its defaults
            return not any(self.reducer.needed(d) for d in [*stmt.args.defaults, *stmt.args.kw_defaults] if d)
        return not self.reducer.needed(stmt.value)

    def _idle(self, stmt: ast.stmt) -> bool:
        """A `for` or `if` left with nothing to run, over values of the test's own."""
        if isinstance(stmt, ast.For) and _empty(stmt.body) and not stmt.orelse:
            return not self.reducer.needed(stmt.iter)
        if isinstance(stmt, ast.If) and _empty(stmt.body) and not stmt.orelse:
            return not self.reducer.needed(stmt.test)
        return False

    def generic_visit(self, node):
        super().generic_visit(node)  # the inner blocks first: a loop they leave empty goes too
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                kept = [s for s in block if not (self._dead(s) or self._idle(s))]
                self.changed |= len(kept) != len(block)
                if not kept and field == "body" and not isinstance(node, ast.Module):
                    kept = [ast.Pass()]
                setattr(node, field, kept)
        return node


def _defines_only(stmt: ast.stmt) -> set[str]:
    """The names a plain assignment (`a = ...`, `a, b = ...`) or a function definition binds; else empty."""
    if isinstance(stmt, ast.FunctionDef) and not stmt.decorator_list:
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        names = [e for t in stmt.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        if all(isinstance(e, ast.Name) for e in names):
            return {e.id for e in names}
    return set()
