"""Right and plausible wrong answers for exercise 00_setup (see __init__)."""

from __future__ import annotations

from .marks import caught_publicly

# --- 00 ------------------------------------------------------------------------------


def lab_header_right(headers):
    return any(k.lower() == "x-course-lab" for k in headers)


@caught_publicly
def lab_header_case_sensitive(headers):
    return "X-Course-Lab" in headers


@caught_publicly
def lab_header_always(headers):
    return True


def lab_header_value_must_be_set(headers):
    return any(k.lower() == "x-course-lab" and v for k, v in headers.items())


def lab_header_two_spellings(headers):
    """Knows the two spellings the public checks try, not the rule."""
    return "X-Course-Lab" in headers or "x-course-lab" in headers


def lab_header_prefix(headers):
    return any(k.lower().startswith("x-course-lab") for k in headers)


CASES = {
    ("00_setup", "q1"): ("is_lab_ollama", lab_header_right,
                         [lab_header_case_sensitive, lab_header_always, lab_header_value_must_be_set,
                          lab_header_two_spellings, lab_header_prefix]),
}
