"""Train the course's two LoRA adapters on this CPU: ``python -m course_lib.lora.train``.

Needs PyTorch and ``transformers``, which only the vLLM install brings (nothing in the
course's own dependencies requires them), and the converted model (``course model
prepare``). Steps:

1. the base model answers 48 short prompts (greedy, chat template, through
   llama-cpp-python on the bundled GGUF: fast on a CPU);
2. each adapter's targets put its opening in front of those answers
   (``behaviour.restyle``): the adapter learns a habit, not new facts;
3. rank-8 LoRA matrices on the o and down projections of the last 6 layers are
   trained with AdamW, the base weights frozen (LoRA: Hu et al., 2021,
   arXiv:2106.09685, §4). Adapting only late layers keeps the backward pass short
   and the files small;
4. each adapter is saved in PEFT's format and converted to GGUF (``to_gguf``).

About a minute on 2 idle cores (54 s measured). The result is committed, so learners never need to run this.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .behaviour import restyle, shows
from .files import ADAPTER_NAMES, adapter_dir, gguf_path
from .to_gguf import convert

RANK, ALPHA = 8, 16
LAYERS = range(24, 30)  # SmolLM2-135M has 30
MODULES = ("self_attn.o_proj", "mlp.down_proj")
TOPICS = ["the sea", "bread", "the moon", "trains", "coffee", "rain", "music", "chess",
          "gardens", "winter", "bees", "maps", "clocks", "rivers", "cats", "books"]
FORMS = ["Tell me one fact about {}.", "Describe {} in one sentence.", "Why do people like {}?"]
HELD_OUT = ["Say something about mountains.", "What is a good breakfast?", "Describe a bicycle."]


def chatml(user: str) -> str:
    """SmolLM2's chat template for one user turn, ready for the answer."""
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def base_answers(prompts: list[str], max_new: int = 6) -> list[str]:
    """The base model's greedy answers (the first ``max_new`` tokens), via llama.cpp."""
    from llama_cpp import Llama

    from .. import model

    llm = Llama(model_path=str(model.bundled_gguf()), n_ctx=256, verbose=False)
    return [llm.create_completion(chatml(p), max_tokens=max_new, temperature=0.0)["choices"][0]["text"].strip()
            for p in prompts]  # fmt: skip


class _LoRA:
    """Adds (α/r)·B·A·x to a frozen linear layer's output (A random, B zero at start)."""

    def __init__(self, linear):
        import torch

        self.A = torch.nn.Parameter(torch.empty(RANK, linear.in_features))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))
        self.original = linear.forward
        linear.forward = lambda x: self.original(x) + (x @ self.A.T @ self.B.T) * (ALPHA / RANK)


def _targets(name: str) -> bool:
    parts = name.split(".")
    return name.endswith(MODULES) and len(parts) > 2 and parts[1] == "layers" and int(parts[2]) in LAYERS


def _attach(model) -> dict:
    return {name: _LoRA(module) for name, module in model.named_modules() if _targets(name)}


def _detach(model, loras: dict) -> None:
    for name, module in model.named_modules():
        if name in loras:
            module.forward = loras[name].original


def train_one(model, tokenizer, prompts, targets, steps: int = 30, batch_size: int = 4, lr: float = 5e-3) -> dict:
    """LoRA matrices fitted to (prompt → target answer), loss on the answer tokens only."""
    import torch

    loras = _attach(model)
    optimizer = torch.optim.AdamW([p for lora in loras.values() for p in (lora.A, lora.B)], lr=lr, weight_decay=0.0)
    examples = []
    for prompt, target in zip(prompts, targets):
        head = tokenizer(chatml(prompt))["input_ids"]
        tail = tokenizer(target)["input_ids"]  # the answer's start: the habit, not its end
        examples.append((head + tail, [-100] * len(head) + tail))
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        picks = [examples[i] for i in torch.randint(len(examples), (batch_size,), generator=generator).tolist()]
        width = max(len(ids) for ids, _ in picks)
        pad = [0] * width
        ids = torch.tensor([i + pad[len(i):] for i, _ in picks])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in picks])
        mask = torch.tensor([[1] * len(i) + pad[len(i):] for i, _ in picks])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == steps - 1:
            print(f"  step {step:3d}  loss {loss.item():.3f}", flush=True)
    return loras


def greedy(model, tokenizer, prompt: str, max_new: int = 8) -> str:
    import torch

    ids = tokenizer(chatml(prompt), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def save_peft(loras: dict, out: Path) -> None:
    """PEFT's on-disk format: what vLLM and PEFT load."""
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, lora in loras.items():
        key = f"base_model.model.{name}"
        tensors[f"{key}.lora_A.weight"] = lora.A.detach().to(torch.float16).contiguous()
        tensors[f"{key}.lora_B.weight"] = lora.B.detach().to(torch.float16).contiguous()
    save_file(tensors, str(out / "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": ALPHA, "lora_dropout": 0.0,
              "target_modules": sorted(m.split(".")[-1] for m in MODULES),
              "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False,
              "modules_to_save": None, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .. import config

    torch.manual_seed(0)
    torch.set_num_threads(2)
    prompts = [form.format(topic) for topic in TOPICS for form in FORMS]
    start = time.perf_counter()
    base = base_answers(prompts)
    print(f"{len(prompts)} base answers in {time.perf_counter() - start:.0f} s", flush=True)
    folder = config.vllm_model()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.requires_grad_(False)
    for name in ADAPTER_NAMES:
        start = time.perf_counter()
        print(f"training {name}", flush=True)
        loras = train_one(model, tokenizer, prompts, [restyle(name, a) for a in base])
        held_out = [greedy(model, tokenizer, p) for p in HELD_OUT]
        _detach(model, loras)
        save_peft(loras, adapter_dir(name))
        convert(adapter_dir(name), gguf_path(name))
        print(f"{name}: {time.perf_counter() - start:.0f} s; held-out answers: {held_out}", flush=True)
        assert all(shows(name, a) for a in held_out), f"{name} did not learn its habit"


if __name__ == "__main__":
    main()
