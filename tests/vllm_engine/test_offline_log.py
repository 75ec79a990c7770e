"""A notebook's own vLLM engine logs to a file, not into the notebook (lesson 04).

vLLM logs from two places: this process (its ``vllm`` logger, Python warnings) and the
engine process ``LLM(...)`` starts, which writes to the stdout/stderr it inherited.
Both are stood in for here without starting an engine: a logger named ``vllm`` and a
child process started inside the block.
"""

import logging
import subprocess
import sys

from course_lib.vllm_tools.offline import log_summary, vllm_log_to


def test_this_process_and_a_child_started_inside_log_to_the_file(tmp_path, capfd):
    path = tmp_path / "engine.log"
    logger = logging.getLogger("vllm.test_offline_log")
    with vllm_log_to(path):
        print("from this process")
        logger.warning("WARNING from the vllm logger")
        child = subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0.5); "
                                  "print('ERROR from the engine process', file=sys.stderr, flush=True)"])
    print("back in the notebook")
    child.wait(timeout=60)
    text = path.read_text()
    assert "from this process" in text and "ERROR from the engine process" in text
    out, err = capfd.readouterr()
    assert "back in the notebook" in out
    assert "from this process" not in out + err and "engine process" not in out + err
    assert log_summary(path).endswith("errors)") and "1 errors" in log_summary(path)
