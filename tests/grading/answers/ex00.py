"""Right and plausible wrong answers for exercise 00_setup (see __init__)."""

from __future__ import annotations




# --- 00 ------------------------------------------------------------------------------


def lab_header_right(headers):
    return any(k.lower() == "x-course-lab" for k in headers)


def lab_header_case_sensitive(headers):
    return "X-Course-Lab" in headers


def lab_header_always(headers):
    return True


def lab_header_value_must_be_set(headers):
    return any(k.lower() == "x-course-lab" and v for k, v in headers.items())


CASES = {
    ("00_setup", "q1"): ("is_lab_ollama", lab_header_right,
                         [lab_header_case_sensitive, lab_header_always, lab_header_value_must_be_set]),
}
