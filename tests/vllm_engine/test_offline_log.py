"""A notebook's own vLLM engine logs to a file, not into the notebook (lesson 04).

vLLM logs from two places: this process (its ``vllm`` logger, Python warnings) and the
engine process ``LLM(...)`` starts, which writes to the stdout/stderr it inherited.
Both are stood in for here without starting an engine: a logger named ``vllm`` and a
child process started inside the block. The scenario runs in a fresh Python, as in a
kernel: not under pytest's capture, and not in a process where other tests ran vLLM.
"""

import subprocess
import sys
import textwrap

from course_lib.vllm_tools.offline import log_summary

SCENARIO = textwrap.dedent("""
    import logging, subprocess, sys
    from pathlib import Path
    from course_lib.vllm_tools.offline import vllm_log_to

    logger = logging.getLogger("vllm.test_offline_log")
    with vllm_log_to(Path(sys.argv[1])):
        print("from this process")
        logger.warning("WARNING from the vllm logger")
        child = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.5); "
                                  "print('ERROR from the engine process', file=sys.stderr, flush=True)"])
    print("back in the notebook")
    child.wait(timeout=60)
""")


def test_this_process_and_a_child_started_inside_log_to_the_file(tmp_path):
    path = tmp_path / "engine.log"
    run = subprocess.run([sys.executable, "-c", SCENARIO, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    text = path.read_text()
    assert "from this process" in text and "ERROR from the engine process" in text
    assert "back in the notebook" in run.stdout
    seen = run.stdout + run.stderr
    assert "from this process" not in seen and "engine process" not in seen
    assert log_summary(path).endswith("errors)") and "1 errors" in log_summary(path)
