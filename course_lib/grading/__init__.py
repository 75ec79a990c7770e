"""Exercises and grading on otter-grader: author time (assign), check time, grading time."""
