"""How many threads llama.cpp gets (course_lib/cores.py): the one rule lab Ollama,
the quantization lesson's scorer and the lab-vs-llama.cpp benchmark share."""

import os
import subprocess
import sys

import psutil
import pytest

from course_lib.cores import allowed_cores, llama_threads


def test_llama_threads_are_the_physical_cores_within_the_allowed_ones():
    physical = psutil.cpu_count(logical=False) or psutil.cpu_count()
    assert llama_threads() == min(physical, len(allowed_cores()))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_a_process_confined_to_one_core_gets_one_thread():
    one_core = allowed_cores()[:1]
    code = ("import os; os.sched_setaffinity(0, %r); "
            "from course_lib.cores import llama_threads; print(llama_threads())" % one_core)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
