"""Grade on submit (`dlcourse serve`): an HTTP service that queues students' submissions in a
database and grades each through the same sandboxed, judged-outside path as `dlcourse autograde`.

- `policy`: the SUBMIT setting of grader_config.py, checked like the rest;
- `store`: the queue, the history, the students' tokens and the services' leases (SQLite, one
  file, by default; PostgreSQL for several services, through a pool of connections);
- `pgcluster`: a throwaway PostgreSQL server for the tests and the load benchmark;
- `grading`: one submission through the autograde engine into the class gradebook;
- `app`: the FastAPI application (API v1), its grading threads and its heartbeat;
- `watchdog`: kills the service's grading processes when the service dies (even `kill -9`);
- `client`: `dlcourse.submit()` in a notebook and `dlcourse submit NOTEBOOK`.
"""
