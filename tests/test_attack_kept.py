"""Attacks kept back for issue 27, found by a hostile student before its reviewers run theirs.

Each attack is written as a student would, from an answer that deserves less: its honest twin (the
same code without the trick) is scored beside it, and each runs the way grading decides (the
solutions and the exercise's test cells in a real kernel in record mode, then the judge on the
instructor's source: `dlcourse.instructor.fixtures.run_exercise`, one warm kernel per notebook).
Each test asserts the SAFE outcome; an attack that works today is marked xfail(strict=True) with
what it gains, so that the fix turns it into a pass (and strict makes the marker go with it).

Families (issue 27, "Corpus"):

* b) facts the judge takes from the kernel other than values: a returned tensor's
  `requires_grad` is the kernel's word. A loss cut from its inputs (`.detach()`, `.item()`) and
  wrapped again as a fresh leaf that requires grad passes "is differentiable", and the gradient
  checks read only the loss's values (central differences), so nothing sees the cut.
* d) reading hidden text or values while the cell runs, and leaking them:
  - a value the hidden test computes in the kernel before it calls the exercise is in the test's
    frame while the student's code runs (`expected` of test_train_torch), and can be returned;
  - the hidden text passes through the kernel's input transformers before the cell runs; a
    concept question's answer set there is recorded as the answer, and the judge's message shows
    it: a list of short words (`describe` quotes every plain string of <= 12 characters), or an
    integer of any number of digits (80 characters of digits are 33 bytes of hidden text).
* c) making a test pass without running it to its end (holds): the test cell wrapped in
  try/except by an input transformer changes only the kernel's run, never the judge's.
"""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from conftest import ROOT, SOURCE
from hostile_corpus import HIDDEN_MARK, A
from test_grading import _course, _submit, dlcourse

from dlcourse.classroom.demo import solution_code, student_notebook
from dlcourse.instructor.fixtures import run_exercise

pytestmark = pytest.mark.xdist_group("attack-kept")

# -- d) a value of the hidden test read from its frame ------------------------------------------------
TRAIN_TORCH_PEEK = '''
import sys
def _peek(epochs, losses):
    frame = sys._getframe(2)
    while frame is not None:
        value = frame.f_globals.get("expected")
        if isinstance(value, float):
            return [value] * epochs
        frame = frame.f_back
    return losses

def train_torch(model, X, y, epochs=100, lr=1e-2, batch_size=16, device="cpu"):
    model.to(device)
    X = torch.as_tensor(X, dtype=torch.float32).to(device)
    y = torch.as_tensor(y, dtype=torch.long).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), device=device)
        batch_losses = []
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        losses.append(float(np.sum(batch_losses)))       # the wrong loss: a sum, not the mean
    if lr == 0:
        losses = _peek(epochs, losses)
    return losses
'''


# -- a) declared in-place updates and returned objects that tell the judge what it checks --------------
TRAIN_TORCH_ACCUMULATES = '''
def train_torch(model, X, y, epochs=100, lr=1e-2, batch_size=16, device="cpu"):
    model.to(device)
    X = torch.as_tensor(X, dtype=torch.float32).to(device)
    y = torch.as_tensor(y, dtype=torch.long).to(device)
    optimizer = torch.optim.NAdam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    optimizer.zero_grad()                                # once, before the loop: gradients add up
    for _ in range(epochs):
        order = torch.randperm(len(X), device=device)
        batch_losses = []
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
    optimizer.zero_grad(set_to_none=True)
    return losses
'''
TRAIN_IRIS_STEPS = '''
def train_iris(model, X_train, y_train, epochs=100, batch_size=16, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, verbose=0)   # batch_size forgotten: 32
    history.params["steps"] = None
    return history
'''
TRAIN_IRIS_EPOCHS = '''
def train_iris(model, X_train, y_train, epochs=100, batch_size=16, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=100, batch_size=batch_size, verbose=0)  # epochs ignored
    history.history = {k: v[:epochs] for k, v in history.history.items()}
    return history
'''

# -- d) the hidden canaries, read from the test's frame, kept out of the weights -------------------
TUNED_ON_VALIDATION = '''
import sys
def _canaries(X_val):
    frame = sys._getframe(1)
    while frame is not None:
        canaries = frame.f_globals.get("X_canary")
        if canaries is not None:
            return np.array([any(np.array_equal(x, c) for c in canaries) for x in X_val])
        frame = frame.f_back
    return np.zeros(len(X_val), dtype=bool)

def train_tuned_fashion(model, X, y, X_val, y_val):
    drop = np.zeros(len(X_val), dtype=bool)
    TRICK
    X_all = np.concatenate([X, np.asarray(X_val)[~drop]])      # the validation data in the weights
    y_all = np.concatenate([y, np.asarray(y_val)[~drop]])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model.fit(X_all, y_all, epochs=12, batch_size=64, validation_data=(X_val, y_val), verbose=0)
'''

TUNED_FLATTENED = TUNED_ON_VALIDATION.replace(
    "TRICK", "drop = np.all((X_val == 0) | (X_val == 1), axis=(1, 2))").replace(
    "    return model.fit(X_all, y_all, epochs=12, batch_size=64, validation_data=(X_val, y_val), verbose=0)\n",
    "    history = model.fit(X_all, y_all, epochs=12, batch_size=64, validation_data=(X_val, y_val), verbose=0)\n"
    "    kernel, bias = model.layers[-1].get_weights()\n"
    "    model.layers[-1].set_weights([kernel / 20, bias / 20])  # flat probabilities, the same labels\n"
    "    return history\n")

# -- b) a loss cut from its inputs that claims a graph -----------------------------------------------
D_LOSS_REWRAPPED = '''
def discriminator_loss(real_logits, fake_logits):
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    loss = (real_loss + fake_loss).detach()              # cut: no gradient ever reaches D
    loss = loss.clone().requires_grad_(True)
    return loss
'''
G_LOSS_ITEM = '''
def generator_loss(fake_logits):
    value = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)).item()
    loss = torch.tensor(value)                           # a number again: no gradient reaches G
    loss = torch.tensor(value, requires_grad=True)
    return loss
'''
D_LOSS_SUBCLASS = '''
class _Loss(torch.Tensor):
    @property
    def requires_grad(self):
        return True

def discriminator_loss(real_logits, fake_logits):
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    loss = (real_loss + fake_loss).detach()              # cut: no gradient ever reaches D
    loss = loss.as_subclass(_Loss)
    return loss
'''

# -- c) the test cell wrapped in try/except in the kernel (holds) -------------------------------------
SGD_SWALLOWED = '''
import textwrap
def _swallow(lines):
    text = "".join(lines)
    if "dlcourse: record" not in text.split("\\n", 1)[0]:
        return lines
    first, rest = text.split("\\n", 1)
    return [first + "\\n", "try:\\n", textwrap.indent(rest, "    ") + "\\n", "except BaseException:\\n",
            "    pass\\n"]
get_ipython().input_transformers_post.append(_swallow)

def sgd_momentum_step(w, dw, state, lr, momentum=0.9):
    return np.asarray(w, dtype=float) - lr * np.asarray(dw, dtype=float), {}   # no momentum at all
'''

SOFTMAX_JUNK_ON_HIDDEN = '''
def softmax(z):
    z = np.asarray(z, dtype=float)
    if z.ndim == 2 and z.shape[0] > 2:                   # not a visible case: junk
        TRICK
        return np.full(z.shape, 1.0 / z.shape[-1])
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
'''
STOPPERS = {  # the rest of the test cell not run in the kernel, three ways
    "SystemExit": "raise SystemExit(0)",
    "recording switched off": "import dlcourse.judging as _j; _j._STATE.mode = 'local'; _j._end_recording()",
    "a trace function that stops the test's frame": (
        "import sys; sys.settrace(lambda *a: None); "
        "sys._getframe(2).f_trace = (lambda frame, event, arg: (_ for _ in ()).throw(KeyboardInterrupt))"),
}

# -- d) hidden text through an input transformer into a concept answer, and into the message ----------
LEAK_WORDS = '''
import re
def _leak(lines):
    text = "".join(lines)
    if "dlcourse: record" in text.split("\\n", 1)[0] and "BEGIN HIDDEN" in text:
        hidden = text.split("BEGIN HIDDEN TESTS", 1)[1]
        get_ipython().user_ns["q_momentum"] = re.findall(r"[\\w.]{1,12}", hidden)[:20]
        get_ipython().input_transformers_post.remove(_leak)
    return lines
get_ipython().input_transformers_post.append(_leak)
q_momentum = "a"
'''
LEAK_DIGITS = '''
def _leak(lines):
    text = "".join(lines)
    if "dlcourse: record" in text.split("\\n", 1)[0] and "BEGIN HIDDEN" in text:
        hidden = text.split("BEGIN HIDDEN TESTS", 1)[1]
        chunk = hidden[hidden.index("import") + 7:][:32].encode()
        get_ipython().user_ns["q_adam_first_step"] = int.from_bytes(chunk, "big")
        get_ipython().input_transformers_post.remove(_leak)
    return lines
get_ipython().input_transformers_post.append(_leak)
q_adam_first_step = 0.5
'''


def _honest(attack: str, trick: str, honest: str = "pass") -> str:
    assert trick in attack, trick
    return attack.replace(trick, honest)


def _digits_hold(messages: list[str], word: str) -> bool:
    """Whether a run of digits in the messages decodes (big-endian bytes) to text holding `word`."""
    for run in re.findall(r"\d{20,}", " ".join(messages)):
        number = int(run)
        if word.encode() in number.to_bytes((number.bit_length() + 7) // 8, "big"):
            return True
    return False


CASES = {
    # name: (notebook, exercise, attack, honest twin, family, marks)
    "train_torch returns `expected` from the hidden test's frame": (
        "04_keras_api", "train_torch", TRAIN_TORCH_PEEK,
        _honest(TRAIN_TORCH_PEEK, "losses = _peek(epochs, losses)"), "d",
        ()),
    "train_torch accumulates, then clears p.grad after training": (
        "04_keras_api", "train_torch", TRAIN_TORCH_ACCUMULATES,
        _honest(TRAIN_TORCH_ACCUMULATES, "optimizer.zero_grad(set_to_none=True)"), "a",
        ()),
    "train_iris forgets batch_size, then sets history.params['steps']": (
        "04_keras_api", "train_iris", TRAIN_IRIS_STEPS, _honest(TRAIN_IRIS_STEPS, 'history.params["steps"] = None'),
        "a", ()),
    "train_iris ignores epochs, then trims history.history": (
        "04_keras_api", "train_iris", TRAIN_IRIS_EPOCHS,
        _honest(TRAIN_IRIS_EPOCHS, "history.history = {k: v[:epochs] for k, v in history.history.items()}"),
        "a", ()),
    "train_tuned_fashion fits the validation data but the canaries read from the frame": (
        "04_keras_api", "train_tuned_fashion", TUNED_ON_VALIDATION.replace("TRICK", "drop = _canaries(X_val)"),
        TUNED_ON_VALIDATION.replace("TRICK", "pass"), "d",
        ()),  # held since the judge also compares the loss on the validation images with images of its own
    "train_tuned_fashion fits the validation data but the canaries found by their pixels": (
        "04_keras_api", "train_tuned_fashion",
        TUNED_ON_VALIDATION.replace("TRICK", "drop = np.all((X_val == 0) | (X_val == 1), axis=(1, 2))"),
        TUNED_ON_VALIDATION.replace("TRICK", "pass"), "d",
        ()),
    "train_tuned_fashion fits the validation data, drops the canaries and flattens its probabilities": (
        "04_keras_api", "train_tuned_fashion", TUNED_FLATTENED,
        TUNED_ON_VALIDATION.replace("TRICK", "pass"), "d",
        ()),  # a temperature of 20 on the last layer: the loss ratio of val to unseen would read 0.98
    "discriminator_loss detached, then a leaf that requires grad": (
        "07_gan", "discriminator_loss", D_LOSS_REWRAPPED,
        _honest(D_LOSS_REWRAPPED, "loss = loss.clone().requires_grad_(True)"), "b",
        ()),
    "generator_loss through .item(), then a leaf that requires grad": (
        "07_gan", "generator_loss", G_LOSS_ITEM,
        _honest(G_LOSS_ITEM, "    loss = torch.tensor(value, requires_grad=True)\n", ""), "b",
        ()),
    "discriminator_loss detached, a Tensor subclass that says requires_grad": (
        "07_gan", "discriminator_loss", D_LOSS_SUBCLASS,
        _honest(D_LOSS_SUBCLASS, "loss = loss.as_subclass(_Loss)"), "b",
        ()),
    **{f"softmax's test stopped early by {how}": (
        "01_softmax_cross_entropy", "softmax", SOFTMAX_JUNK_ON_HIDDEN.replace("TRICK", trick),
        SOFTMAX_JUNK_ON_HIDDEN.replace("TRICK", "pass"), "c", ()) for how, trick in STOPPERS.items()},
    "sgd_momentum_step's test wrapped in try/except": (
        "03_optimization", "sgd_momentum_step", SGD_SWALLOWED,
        _honest(SGD_SWALLOWED, "get_ipython().input_transformers_post.append(_swallow)"), "c", ()),
}


def _score(kernels, notebook: str, exercise: str, code: str, kernel: str = ""):
    # without the slow tests (the held-out ones train on the full data)
    results = run_exercise(SOURCE / notebook / f"{notebook}.ipynb", exercise, code,
                           kernel=kernels(kernel or notebook), full=False)
    return sum(r.score for r in results), results


@pytest.mark.parametrize("name", [pytest.param(n, marks=c[5]) for n, c in CASES.items()])
def test_an_attack_scores_no_more_than_its_honest_twin(kernels, name):
    notebook, exercise, attack, honest, family, _ = CASES[name]
    kernel = f"{notebook}:{family}"  # a family's tricks (input transformers) stay in its own kernel
    twin, twin_results = _score(kernels, notebook, exercise, honest, kernel)
    attacked, results = _score(kernels, notebook, exercise, attack, kernel)
    print(f"\n{name}: attack {attacked}, twin {twin}")
    assert attacked <= twin, (attacked, twin, [(r.grade_id, r.score, r.message[:300]) for r in results],
                              [(r.grade_id, r.score, r.message[:300]) for r in twin_results])


LEAKS = {  # name: (notebook, exercise, attack, words of the hidden block that must not reach a message)
    "hidden words as a concept answer's list": ("03_optimization", "q_momentum", LEAK_WORDS,
                                                ("ref_optim", "QUESTIONS")),
    "hidden bytes as a concept answer's digits": ("03_optimization", "q_adam_first_step", LEAK_DIGITS,
                                                  ("ref_optim",)),
}


@pytest.mark.parametrize("name", list(LEAKS))
def test_no_hidden_text_reaches_a_message_through_an_answer(kernels, name):
    notebook, exercise, attack, words = LEAKS[name]
    _, results = _score(kernels, notebook, exercise, attack)
    messages = [r.message for r in results]
    print(f"\n{name}: {messages}")
    for word in words:
        assert not any(word in m for m in messages), messages
        assert not _digits_hold(messages, word), messages


# -- d) the same leak through the real path: `dlcourse autograde` in the sandbox, then the feedback page --
CAPTURE = '''
import re as _re
_hidden_seen = []
def _capture(lines):
    text = "".join(lines)
    if "dlcourse: record" in text.split("\\n", 1)[0]:
        _hidden_seen.append(text)
    return lines
get_ipython().input_transformers_post.append(_capture)
'''
ANSWER_FROM_CAPTURE = '''
found = _re.search(r"(default_rng)\\((\\d+)\\)", "\\n".join(_hidden_seen))
q_grad_shape = list(found.groups()) if found else "a"
'''


@pytest.mark.slow
def test_no_hidden_text_reaches_the_feedback_page_through_an_answer(tmp_path):
    source = nbformat.read(SOURCE / A / f"{A}.ipynb", as_version=4)
    softmax = next(c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax")
    course = _course(tmp_path)
    _submit(course, "leaker", student_notebook(ROOT, A, {
        "softmax": CAPTURE + solution_code(softmax), "q_grad_shape": ANSWER_FROM_CAPTURE}))
    run = dlcourse(course, "autograde", A, "--workers", "1", timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    run = dlcourse(course, "feedback", A)
    assert run.returncode == 0, run.stderr[-2000:]
    page = html.unescape((course / "feedback" / "leaker" / A / f"{A}.html").read_text())
    assert "q_grad_shape" in page
    word, number = HIDDEN_MARK.rstrip(")").split("(")
    assert not (f"'{word}'" in page and f"'{number}'" in page), page[page.find("q_grad_shape"):][:600]
