"""The seed guide's Ollama samples, verbatim but for the model name and the address
(this server runs on a free port instead of 11434)."""

import pytest

GENERATE = '''
import requests

url = "http://localhost:11434/api/generate"
payload = {
    "model": "llama3.2",
    "prompt": "Explain quantum computing",
    "stream": False
}

response = requests.post(url, json=payload)
result = response.json()
print(result["response"])
'''

CHAT = '''
url = "http://localhost:11434/api/chat"
payload = {
    "model": "llama3.2",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is Python?"}
    ],
    "stream": False
}

response = requests.post(url, json=payload)
result = response.json()
print(result["message"]["content"])
'''

STREAMING = '''
import json

payload = {
    "model": "llama3.2",
    "messages": [{"role": "user", "content": "Tell me a story"}],
    "stream": True
}

response = requests.post(url, json=payload, stream=True)

for line in response.iter_lines():
    if line:
        chunk = json.loads(line)
        if "message" in chunk:
            print(chunk["message"]["content"], end="", flush=True)
'''

OPENAI = '''
from openai import OpenAI

client = OpenAI(
    base_url="http://localhost:11434/v1",
    api_key="ollama"  # Required but not used
)

response = client.chat.completions.create(
    model="llama3.2",
    messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"}
    ]
)

print(response.choices[0].message.content)
'''


def _adapt(sample: str, url: str) -> str:
    return sample.replace("http://localhost:11434", url).replace('"llama3.2"', '"smollm2:135m"')


@pytest.fixture
def short_answers(client, pulled):
    """The samples set no length; a 135M model can ramble for minutes. The lab's
    smollm2:135m gets a Modelfile-style num_predict, so the code stays verbatim."""
    client.create(model="smollm2:135m", from_="smollm2:135m", parameters={"num_predict": 48, "stop": ["<|im_start|>", "<|im_end|>"]})
    yield
    client.pull("smollm2:135m")


def test_rest_samples_run_in_sequence(lab, short_answers, capsys):
    namespace: dict = {}
    for sample in (GENERATE, CHAT, STREAMING):
        exec(_adapt(sample, lab.url), namespace)
        printed = capsys.readouterr().out
        assert printed.strip(), sample


def test_openai_sample(lab, short_answers, capsys):
    exec(_adapt(OPENAI, lab.url), {})
    assert capsys.readouterr().out.strip()
