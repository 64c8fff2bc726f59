"""Benchmarks of the course (`make bench`): they print numbers, they assert nothing."""
