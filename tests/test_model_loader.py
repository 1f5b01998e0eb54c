"""Model resolution (folder, cache, hub), download progress, device and dtype choice."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from app.core.asr import model_loader as ml
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import Cancelled, ModelError, SettingsError
from app.core.events import DeviceInfo, DownloadProgress
from tests.fake_hub import install_fake_hub

REPO = "zai-org/GLM-ASR-Nano-2512"


# ------------------------------------------------------------------ folders


def test_local_folder_checks(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert ml.check_model_folder(tiny_model_dir) == tiny_model_dir.resolve()
    with pytest.raises(ModelError, match="does not exist"):
        ml.resolve_model(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        ml.resolve_model(str(empty))
    noweights = tmp_path / "noweights"
    shutil.copytree(tiny_model_dir, noweights)
    for f in noweights.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ModelError, match="no weights"):
        ml.resolve_model(str(noweights))
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    (other / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    with pytest.raises(ModelError, match="not GLM-ASR"):
        ml.resolve_model(str(other))


def test_missing_folder_error_from_engine(tmp_path: Path) -> None:
    engine = Engine(EngineOptions(model=str(tmp_path / "nowhere" / "glm")))
    with pytest.raises(ModelError) as err:
        engine.load()
    assert "does not exist" in str(err.value) and "\n" not in str(err.value)
    assert not engine.loaded


def test_hub_id_or_path() -> None:
    assert not ml.looks_like_path(REPO)
    assert ml.looks_like_path("./models/glm")
    assert ml.looks_like_path("/opt/models/glm")
    assert ml.looks_like_path("models/glm/asr")
    with pytest.raises(ModelError, match="neither"):
        ml.resolve_model("bad id/with space")


# ------------------------------------------------------------------ hub and cache


def test_offline_and_not_cached(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        Engine(EngineOptions(model=REPO)).load()
    message = str(err.value)
    assert REPO in message and "--model PATH" in message and "not downloaded" in message
    assert "\n" not in message


def test_unreachable_hub_is_the_offline_error(
    hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(HfApi, "model_info", no_network)
    with pytest.raises(ModelError, match="hub can't be reached"):
        ml.resolve_model(REPO)


def test_unknown_repo(hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import HfApi, errors

    http = pytest.importorskip("httpx2")  # the HTTP client of huggingface_hub >= 2
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    response = http.Response(404, request=http.Request("GET", "https://huggingface.co/x"))

    def not_found(*args: Any, **kwargs: Any) -> Any:
        raise errors.RepositoryNotFoundError("404 Repository Not Found", response=response)

    monkeypatch.setattr(HfApi, "model_info", not_found)
    with pytest.raises(ModelError, match="was not found on the Hugging Face hub"):
        ml.resolve_model("someone/no-such-model")


def put_in_cache(tiny_model_dir: Path, hf_home: Path, repo: str, commit: str = "a" * 40) -> Path:
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    shutil.copytree(tiny_model_dir, snapshot)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


def test_cached_model_loads_offline(
    tiny_model_dir: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = put_in_cache(tiny_model_dir, hf_home, "murmur-test/tiny-glmasr")
    assert ml.resolve_model("murmur-test/tiny-glmasr") == snapshot.resolve()
    engine = Engine(EngineOptions(model="murmur-test/tiny-glmasr", device="cpu", dtype="fp32"))
    info = engine.load()
    assert info.device == "cpu" and engine.model_path == snapshot.resolve()


def test_download_reports_bytes_over_all_files(
    tiny_model_dir: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = "murmur-test/download"
    fake = install_fake_hub(monkeypatch, tiny_model_dir, hf_home, repo)
    events: list[DownloadProgress] = []
    folder = ml.resolve_model(repo, progress=events.append)
    assert folder == fake.snapshot.resolve()
    assert "README.md" not in fake.calls and len(fake.calls) == len(fake.files)
    total = sum((tiny_model_dir / n).stat().st_size for n in fake.files)
    assert events and all(e.bytes_total == total for e in events)
    done = [e.bytes_done for e in events]
    assert done == sorted(done) and done[-1] == total
    assert events[-1].fraction == 1.0
    assert {e.filename for e in events} == set(fake.files)
    # now cached: a second resolve needs no download and no network
    fake.calls.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert ml.resolve_model(repo) == folder and fake.calls == []


def test_download_can_be_cancelled(
    tiny_model_dir: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_hub(monkeypatch, tiny_model_dir, hf_home, "murmur-test/cancel")
    cancel = threading.Event()
    seen: list[DownloadProgress] = []

    def progress(event: DownloadProgress) -> None:
        seen.append(event)
        cancel.set()

    with pytest.raises(Cancelled):
        ml.resolve_model("murmur-test/cancel", progress=progress, cancel=cancel)
    assert len(seen) == 1


def test_counting_tqdm_feeds_progress() -> None:
    events: list[DownloadProgress] = []
    counter = ml._ByteCounter(1000, events.append, None)
    counter.filename = "model.safetensors"
    bar_class = counter.tqdm_class()
    bar = bar_class(total=600, initial=100, unit="B", name="hf")
    bar.update(200)
    bar.update(300)
    bar.close()
    assert [e.bytes_done for e in events] == [100, 300, 600]
    assert events[-1].fraction == pytest.approx(0.6)


# ------------------------------------------------------------------ device and dtype


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Pretend capabilities: set the attributes of the returned namespace in a test."""
    state = SimpleNamespace(
        cuda_build="12.4", cuda=False, count=0, bf16=True, mps=False, gpu_present=False
    )
    monkeypatch.setattr(torch.version, "cuda", state.cuda_build)

    def sync() -> None:
        monkeypatch.setattr(torch.version, "cuda", state.cuda_build)

    state.sync = sync
    monkeypatch.setattr(torch.cuda, "is_available", lambda: state.cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: state.count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA GeForce RTX 4090")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state.bf16)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: state.mps)
    monkeypatch.setattr(ml, "nvidia_gpu_present", lambda: state.gpu_present)
    return state


def test_no_cuda_build(fake_torch: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_torch.cuda_build = None
    fake_torch.sync()
    monkeypatch.setattr(ml, "cpu_flags", lambda: {"avx2"})
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    info = ml.choose_device("cuda")
    assert (info.device, info.dtype) == ("cpu", "fp32")
    assert "no CUDA support" in (info.fallback_reason or "")
    # auto: no reason on a machine without an NVIDIA GPU, a reason with one
    assert ml.choose_device("auto").fallback_reason is None
    fake_torch.gpu_present = True
    auto = ml.choose_device("auto")
    assert auto.device == "cpu" and "no CUDA support" in (auto.fallback_reason or "")


def test_cuda_build_without_driver(fake_torch: SimpleNamespace) -> None:
    fake_torch.sync()
    info = ml.choose_device("auto")
    assert info.device == "cpu" and "no NVIDIA driver or GPU" in (info.fallback_reason or "")


def test_cuda_present(fake_torch: SimpleNamespace) -> None:
    fake_torch.cuda, fake_torch.count = True, 1
    fake_torch.sync()
    info = ml.choose_device("auto")
    assert info == DeviceInfo("cuda", "bf16", "NVIDIA GeForce RTX 4090", None)
    assert info.label() == "CUDA: NVIDIA GeForce RTX 4090, bf16"
    fake_torch.bf16 = False
    assert ml.choose_device("cuda").dtype == "fp16"
    assert ml.choose_device("auto", "fp32").dtype == "fp32"
    cpu = ml.choose_device("cpu")
    assert cpu.device == "cpu" and cpu.fallback_reason is None
    assert ml.default_batch_size(info) == 16


def test_mps_present(fake_torch: SimpleNamespace) -> None:
    fake_torch.cuda_build = None
    fake_torch.mps = True
    fake_torch.sync()
    info = ml.choose_device("auto")
    assert (info.device, info.dtype, info.fallback_reason) == ("mps", "fp16", None)
    assert ml.choose_device("mps").device == "mps"
    assert ml.default_batch_size(info) == 8
    fake_torch.mps = False
    missing = ml.choose_device("mps")
    assert missing.device == "cpu" and "MPS" in (missing.fallback_reason or "")


def test_cpu_dtype_follows_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ml, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert ml.choose_device("cpu").dtype == "bf16"
    monkeypatch.setattr(ml, "cpu_flags", lambda: {"avx2", "fma"})
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert ml.choose_device("cpu").dtype == "fp32"
    assert ml.choose_device("cpu", "bf16").dtype == "bf16"
    # a large checkpoint runs in bf16 on any CPU (app.core.asr.cpu_half widens its products)
    assert ml.choose_device("cpu", weights_bytes=ml.HALF_ON_ANY_CPU_BYTES).dtype == "bf16"
    assert ml.choose_device("cpu", weights_bytes=ml.HALF_ON_ANY_CPU_BYTES - 1).dtype == "fp32"
    # batch 16 on every CPU: decode_sweep.py measured 1.6x the tokens a second of batch 8
    assert ml.default_batch_size(ml.choose_device("cpu")) == 16


def test_bad_settings() -> None:
    with pytest.raises(SettingsError, match="Unknown device"):
        ml.choose_device("tpu")
    with pytest.raises(SettingsError, match="Unknown dtype"):
        ml.choose_device("cpu", "int4")


def test_out_of_gpu_memory_at_load_falls_back_to_cpu(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = torch.nn.Module.to

    def to(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        if args and str(args[0]).startswith("cuda"):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", to)
    monkeypatch.setattr(ml, "cpu_flags", lambda: set())
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    folder = ml.check_model_folder(tiny_model_dir)
    model, _processor, info = ml.load_model(folder, DeviceInfo("cuda", "bf16", "Tiny GPU"))
    assert info.device == "cpu" and info.dtype == "fp32"
    assert "not enough GPU memory" in (info.fallback_reason or "")
    assert next(model.parameters()).dtype == torch.float32
    assert next(model.parameters()).device.type == "cpu"


def test_the_runtime_imports_without_full_collections_and_is_frozen() -> None:
    """torch's and transformers' imports make ~380,000 objects: no full collection walks
    them during the imports, and afterwards they sit in the permanent generation (the
    collection at exit took 1.1 s before). The collector is on again afterwards."""
    import subprocess
    import sys

    script = (
        "import gc\n"
        "full = []\n"
        "gc.callbacks.append(lambda phase, info: full.append(1)"
        " if phase == 'stop' and info['generation'] == 2 else None)\n"
        "from app.core.asr import model_loader\n"
        "model_loader.import_runtime()\n"
        "during = len(full)\n"
        "model_loader.import_runtime()\n"
        "print(during, gc.isenabled(), gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    during, enabled, frozen = done.stdout.split()
    assert during == "0" and enabled == "True"
    assert int(frozen) > 100_000
