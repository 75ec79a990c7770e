"""Embed sentences with real vLLM (offline, pooling runner) and print them as JSON.

Run as a module in its own process (vLLM's engine core spawns, so it needs a main):
``python -m tests.lab_ollama.vllm_embed < sentences.json``.
"""

import json
import sys


def main() -> None:
    from vllm import LLM

    from course_lib.lab_ollama import minilm

    sentences = json.load(sys.stdin)
    llm = LLM(str(minilm.folder()), runner="pooling", enforce_eager=True, dtype="float32")
    vectors = [o.outputs.embedding for o in llm.embed(sentences)]
    print("VECTORS " + json.dumps(vectors))


if __name__ == "__main__":
    main()
