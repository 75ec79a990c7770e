"""The course's vLLM command line and environment on the CPU backend (pure functions)."""

from course_lib.vllm_tools import server


def test_the_cpu_server_computes_in_float32_and_the_learner_can_override(monkeypatch):
    monkeypatch.setattr(server, "backend", lambda: "CPU")
    argv = server.server_argv(port=8123, extra_args=("--dtype", "bfloat16"))
    dtype_flags = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dtype"]
    assert dtype_flags == ["float32", "bfloat16"]  # argparse keeps the last: the learner's
    monkeypatch.setattr(server, "backend", lambda: "GPU")
    assert "--dtype" not in server.server_argv(port=8123)


def test_two_cores_reserve_none_and_the_learner_wins(monkeypatch):
    monkeypatch.setattr(server, "backend", lambda: "CPU")
    monkeypatch.delenv("VLLM_CPU_NUM_OF_RESERVED_CPU", raising=False)
    monkeypatch.setattr(server.os, "cpu_count", lambda: 2)
    assert server.engine_env()["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    monkeypatch.setattr(server.os, "cpu_count", lambda: 8)
    assert "VLLM_CPU_NUM_OF_RESERVED_CPU" not in server.engine_env()
    monkeypatch.setattr(server.os, "cpu_count", lambda: 2)
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    assert server.engine_env()["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "1"
