"""The course's vLLM command line and environment on the CPU backend (pure functions)."""

import pytest

from course_lib.vllm_tools import server


def test_the_cpu_server_computes_in_float32_and_the_learner_can_override(monkeypatch):
    monkeypatch.setattr(server, "backend", lambda: "CPU")
    argv = server.server_argv(port=8123, extra_args=("--dtype", "bfloat16"))
    dtype_flags = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dtype"]
    assert dtype_flags == ["float32", "bfloat16"]  # argparse keeps the last: the learner's
    monkeypatch.setattr(server, "backend", lambda: "GPU")
    assert "--dtype" not in server.server_argv(port=8123)


@pytest.mark.parametrize("variable", ["VLLM_CPU_NUM_OF_RESERVED_CPU", "VLLM_ENABLE_V1_MULTIPROCESSING"])
def test_two_cpu_cores_keep_every_core_and_process_for_the_model_and_the_learner_wins(monkeypatch, variable):
    """No core reserved for the scheduler, no worker process (engine_env says why)."""
    monkeypatch.setattr(server, "backend", lambda: "CPU")
    monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(server.os, "cpu_count", lambda: 2)
    assert server.engine_env()[variable] == "0"
    monkeypatch.setattr(server.os, "cpu_count", lambda: 8)
    assert variable not in server.engine_env()
    monkeypatch.setattr(server, "backend", lambda: "GPU")
    assert variable not in server.engine_env()
    monkeypatch.setattr(server, "backend", lambda: "CPU")
    monkeypatch.setattr(server.os, "cpu_count", lambda: 2)
    monkeypatch.setenv(variable, "1")
    assert server.engine_env()[variable] == "1"
