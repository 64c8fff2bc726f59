load_subconfig("grader_config.py")  # noqa: F821  (all settings live in grader_config.py)
