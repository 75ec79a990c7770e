"""``course ollama run M`` at its ``>>>`` prompt, driven through a pseudo-terminal."""

import os

import pexpect
import pytest

from ..helpers import COURSE

M = "smollm2:135m"


@pytest.fixture
def chat(lab, pulled):
    env = {**os.environ, "OLLAMA_HOST": lab.url.removeprefix("http://")}
    child = pexpect.spawn(COURSE, ["ollama", "run", M], env=env, encoding="utf-8", timeout=120)
    child.expect_exact(">>> ")
    yield child
    child.close(force=True)


def test_slash_commands_and_a_chat(chat):
    chat.sendline("/set parameter num_predict 8")
    chat.expect_exact("Set parameter 'num_predict' to '8'")
    chat.sendline("/set system You are a pirate.")
    chat.expect_exact("Set system message.")
    chat.sendline("/set verbose")
    chat.expect_exact("Set 'verbose' mode.")
    chat.sendline("Hello!")
    chat.expect(r"\neval count:\s+(\d+) token\(s\)")  # not "prompt eval count"
    assert int(chat.match.group(1)) <= 8
    chat.expect_exact(">>> ")
    chat.sendline("/show system")
    chat.expect_exact("You are a pirate.")
    chat.sendline("/nonsense")
    chat.expect_exact("Unknown command '/nonsense'. Type /? for help")
    chat.sendline("/?")
    chat.expect_exact('Use """ to begin a multi-line message.')
    chat.sendline("/clear")
    chat.expect_exact("Cleared session context")
    chat.sendline("/bye")
    chat.expect(pexpect.EOF)
    chat.close()
    assert chat.exitstatus == 0


def test_multi_line_input(chat):
    chat.sendline("/set parameter num_predict 4")
    chat.sendline('"""First line,')
    chat.expect_exact("... ")
    chat.sendline('second line."""')
    chat.expect_exact(">>> ")  # answered, back at the prompt
    chat.sendline("/show parameters")
    chat.expect_exact("num_predict")
    chat.sendeof()
    chat.expect(pexpect.EOF)


def test_save_and_load(chat):
    chat.sendline("/set parameter temperature 0.1")
    chat.sendline("/save saved-session")
    chat.expect_exact("Created new model 'saved-session'")
    chat.sendline("/load saved-session")
    chat.expect_exact("Loading model 'saved-session'")
    chat.expect_exact(">>> ")
    chat.sendline("/show parameters")
    chat.expect_exact("temperature")
    chat.sendline("/bye")
    chat.expect(pexpect.EOF)
