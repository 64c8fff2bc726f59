"""Messages a student sees outside the notebook's own text, in their language: the late-policy line,
the late note of a feedback page, the decimal-comma message. Each English sentence is the msgid of
dlcourse/i18n/locale/pt_BR/LC_MESSAGES/dlcourse.po (extracted by `dlcourse translate messages`)."""

from __future__ import annotations

import functools
import re

from . import N_, SOURCE_LANGUAGE, _, _explanations, _test_texts, decimal


def policy_text(assignment: str, schedule, language: str) -> str:
    """The late-policy cell (dlcourse.classroom.deadlines.policy_text) in `language`."""
    policy = schedule.policy
    due = schedule.deadlines.get(assignment)
    when = ""
    if due:
        when = _("Due **{when} ({zone})**. ", language).format(when=due.strftime("%Y-%m-%d %H:%M"),
                                                               zone=due.tzname())
    return f"> {when}{describe_policy(policy, language)}"


def describe_policy(policy, language: str) -> str:
    if policy.kind == "none":
        return _("Late work is accepted without penalty.", language)
    if policy.kind == "not_accepted":
        return _("Late work is not accepted (it scores 0).", language)
    grace = ""
    if policy.grace_minutes:
        grace = _(" after a grace period of {minutes} min", language).format(
            minutes=decimal(policy.grace_minutes, language))
    if policy.per == "day":
        text = _("Late work loses {percent}% of its score per started day{grace}, at most {cap}%.", language)
    else:
        text = _("Late work loses {percent}% of its score per started hour{grace}, at most {cap}%.", language)
    return text.format(percent=decimal(policy.percent, language), grace=grace, cap=decimal(policy.cap, language))


def decimal_comma(whole: int, part: int, language: str | None = None) -> str:
    """A number written with a decimal comma: `2,303` is the tuple (2, 303) in Python."""
    return _("Python writes decimals with a point: {whole},{part} is the tuple ({whole}, {part}); "
             "write {whole}.{part}.", language).format(whole=whole, part=part)


def decimal_comma_text(text: str, language: str | None = None) -> str:
    """A number written as a string with a decimal comma: "2,303"."""
    return _("Python writes decimals with a point and without quotes: write {number}.", language).format(
        number=text.strip().replace(",", "."))


# Sentences written in English by code that does not know the student's language (the grader's
# notes, the judge's check messages), translated on the feedback page by their template: each
# {name} matches any text and is carried over as it is.
NOTES = (
    N_("{name} is not part of the assignment and was not graded"),
    N_("no notebook named {name} was submitted"),
    N_("the notebook was submitted as {submitted} and was graded as {graded}"),
    N_("{name} asked for the kernel {kernel}; it was graded with Python 3"),
    N_("{name}: {count} damaged cell(s) were repaired or dropped"),
    N_("{name}: the cell {cell} appears {count} times; the last copy was graded"),
    N_("{name} is empty: there was nothing to grade"),
    N_("{name} was in the old nbformat 3 and was converted to nbformat 4"),
    N_("the grader could not judge this notebook: {error}"),
    N_("No answer was written (the answer cell is as released): 0 points, no grader needed."),
    N_("This notebook was graded without the sandbox, by an authoring run "
       "(dlcourse autograde --unsandboxed-authoring): it is not a grade of the class."),
)
CHECK_SENTENCES = (  # parts of a check's message (dlcourse.testing), replaced wherever they occur
    N_("Python writes decimals with a point: {whole},{part} is the tuple ({whole}, {part}); write {whole}.{part}."),
    N_("Python writes decimals with a point and without quotes: write {number}."),
    N_("{name}: answer with a number, got {got}."),
    N_("{name}: expected a number, got {got}."),
    N_("{name}: answer with one number, got the tuple {got}."),
    N_("the cell did not run (an earlier cell stopped the kernel?)"),
    N_("Python writes decimals with a point: {point}, not {comma}. A comma makes a tuple of two numbers."),
    # the other messages of dlcourse.testing's checks
    N_("expected numbers (an array, a list or a tensor), got {what}."),
    N_("Wrong type for {name}: expected {wanted}, got {got}."),
    N_("{name} is None: did you forget a `return`?"),
    N_("Wrong shape for {name}: expected {expected}, got {got}."),
    N_("{name} holds {count} non-finite value(s) (nan or inf), the first at index {index}."),
    N_("{name} should be numeric, got values of dtype {dtype}."),
    N_("Wrong value for {name}: expected {expected}, got {got}."),
    N_("Wrong values for {name}: {count} of {size} value(s) differ; first at index {index}: expected {expected}, "
       "got {got} ({details})."),
    N_("{name} was modified in place."),
    N_("{name}: answer with one of {options} (a string), got {got}."),
    N_("{name}: {got} is not the best answer."),
    N_("{name}: {got} is not right."),
)
CHECK_FRAGMENTS = (  # fixed text inside those messages and the checks' default hints
    N_("largest finite error"),
    N_("no error is finite: look for nan or inf"),
    N_("non-finite value(s), at"),
    N_("an overflow in exp or a log of 0?"),
    N_("work on a copy instead of the input array."),
    N_("return a numpy array or a float (np.asarray(..., dtype=float))."),
    # the held-out scores' messages (dlcourse.grader.heldout.verdict): each task's metric and hint
    N_("accuracy on the hidden held-out set is"),
    N_("share of the noise removed on the hidden held-out set is"),
    N_("accuracy of the ensemble of 3 trainings on the hidden held-out set is"),
    N_(", want >="),
    N_("the model could not be scored on the held-out set:"),
    N_("check the preprocessing (scaling to [0, 1]), the labels and the training; the model may be "
       "overfitting the training images."),
    N_("compare a wider network and other settings on your validation digits, each over a few seeds; keep "
       "the bottleneck at latent_dim and the output in [0, 1]."),
    N_("compare candidates on your validation split over a few seeds; in a training this short, look at "
       "what batch normalisation uses at evaluation (section 8)."),
    N_("compare candidates on your validation split, each over a few seeds, in the bonus's budget (the "
       "cell above does it)."),
)


@functools.lru_cache(maxsize=4096)
def _pattern(template: str, whole: bool) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    seen, out = set(), []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            out.append(f"(?P={part})" if part in seen else f"(?P<{part}>[^\\n]+?)")
            seen.add(part)
    body = "".join(out)
    return re.compile(f"^{body}$" if whole else f"{body}(?=\\n|$)", re.M)


def translate_note(text: str, language: str) -> str:
    """A grader's note in `language` when it is one of NOTES; else as it is."""
    if language == SOURCE_LANGUAGE:
        return text
    for template in NOTES:
        match = _pattern(template, whole=True).match(text)
        if match:
            return _(template, language).format(**match.groupdict())
    return text


def translate_check(text: str, language: str) -> str:
    """A check's failure message with the sentences of CHECK_SENTENCES and its "Hint:" in `language`
    (the English message, unchanged, if anything goes wrong: a message is never lost)."""
    if language == SOURCE_LANGUAGE:
        return text
    try:
        return _translate_check(text, language)
    except Exception:  # a catalogue entry with a stray brace, a missing Babel: keep the English
        return text


LINE = re.compile(r"^(?P<prefix>\s*Hint: |(?:[A-Za-z_]\w*(?:Error|Exception)|NotRun): )?(?P<body>.*)$")


def _translate_check(text: str, language: str) -> str:
    """Line by line: a line (after its "AssertionError: " or "Hint: ") that is a whole known text is
    replaced by its translation: a test's own text (exact or a template), a check's sentence of
    dlcourse.testing (whose parts, a test's label, are translated in turn), a concept question's
    explanation. Else the known sentences and fragments inside it are."""
    label = _("Hint", language)
    out = []
    for line in text.split("\n"):
        m = LINE.match(line)
        prefix, body = m["prefix"] or "", m["body"]
        out.append(prefix.replace("Hint: ", f"{label}: ") + _line(body, language))
    return "\n".join(out)


def _line(body: str, language: str) -> str:
    whole = _whole(body, language)
    if whole is not None:
        return whole
    for template in CHECK_SENTENCES:
        translated = _(template, language)
        match = _pattern(template, whole=True).match(body)
        if translated != template and match:
            return translated.format(**{k: _piece(v, language) for k, v in match.groupdict().items()})
    for template in CHECK_SENTENCES:  # a sentence inside a longer line
        translated = _(template, language)
        if translated != template:
            body = _pattern(template, whole=False).sub(lambda m, t=translated: t.format(**m.groupdict()), body)
    return _fragments(body, language)


def _whole(text: str, language: str) -> str | None:
    """`text` translated when it is, whole, one of the tests' texts or an explanation."""
    exact, templates = _test_texts(language)
    if text in exact:
        return exact[text]
    explanations = dict(_explanations(language))
    if text in explanations:
        return explanations[text]
    for template, translated in templates:
        match = _pattern(template, whole=True).match(text)
        if match:
            return translated.format(**match.groupdict())
    return None


def _piece(value: str, language: str) -> str:
    """A part of a check's sentence (the label a test gave it): a test's text, else as it is."""
    whole = _whole(value, language)
    return whole if whole is not None else _fragments(value, language)


def _fragments(text: str, language: str) -> str:
    for fragment in CHECK_FRAGMENTS:
        text = text.replace(fragment, _(fragment, language))
    return text
