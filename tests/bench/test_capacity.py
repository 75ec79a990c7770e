"""Capacity at an SLO: the best rate before the first miss, and the learners it carries."""

from course_lib.bench.capacity import LESSON_10_SLO, Capacity
from course_lib.bench.load import LoadSpec

SPEC = LoadSpec("openai", "http://gateway/v1", "m", num_prompts=16)


def test_best_rate_stops_at_the_first_miss_and_counts_learners_by_pace():
    found = Capacity(SPEC, LESSON_10_SLO, {0.25: 1.0, 0.5: 0.94, 1.0: 0.5, 2.0: 0.95}, "gateway")
    assert found.best_rate == 0.5  # 2.0 met it by luck after 1.0 missed: not counted
    assert [found.learners(pace) for pace in (10, 30, 60)] == [5, 15, 30]
    data = found.to_dict()
    assert data["best_rate"] == 0.5 and data["learners"] == {"10": 5, "30": 15, "60": 30}
    assert data["slo"] == {"ttft_ms": 1000, "tpot_ms": 100, "e2el_ms": None} and data["through"] == "gateway"


def test_no_rate_met_carries_no_learner():
    found = Capacity(SPEC, LESSON_10_SLO, {0.25: 0.4}, "direct")
    assert found.best_rate is None and found.learners(60) == 0
