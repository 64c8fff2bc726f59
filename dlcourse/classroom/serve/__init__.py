"""Grade on submit (`dlcourse serve`): an HTTP service that queues students' submissions in a
database and grades each through the same sandboxed, judged-outside path as `dlcourse autograde`.

- `policy`: the SUBMIT setting of grader_config.py, checked like the rest;
- `store`: the queue, the history and the students' tokens (SQLite, one file);
- `grading`: one submission through the autograde engine into the class gradebook;
- `app`: the FastAPI application (API v1) and its grading threads;
- `client`: `dlcourse.submit()` in a notebook and `dlcourse submit NOTEBOOK`.
"""
