"""The grading engine: runs untrusted notebooks in a sandbox and judges them outside it
(sandbox, jail, intake, worker, judge, tapes, held-out scoring, nbgrader preprocessors, Dask)."""

import sys

# nbformat validates notebooks with jsonschema, whose format checkers import `rfc3987_syntax` when
# it is installed (jsonschema[format-nongpl] pulls it in): that import builds some 35 Lark parsers
# and costs a second in every process that reads a notebook (each CLI call, grading process and
# judge server). No notebook schema uses the two formats it checks ("iri", "iri-reference"), so
# the grader's processes go without it (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)
