"""Find, download and load the GLM-ASR model; choose the device and dtype.

``resolve_model`` turns a hub id or a local folder into a folder on disk (downloading into
the standard Hugging Face cache with byte progress), ``choose_device`` decides where the
model runs, and ``load_model`` loads model and processor through ``from_pretrained``.
torch, transformers and huggingface_hub are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import platform
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.core.asr.static_decode import GAZE_STEP, LENGTH_STEP
from app.core.errors import Cancelled, ModelError, ModelNotDownloaded, SettingsError
from app.core.events import DeviceInfo, DownloadProgress

DEFAULT_MODEL_ID = "zai-org/GLM-ASR-Nano-2512"
DEFAULT_MODEL_BYTES = 4_500_000_000
"""About 4.5 GB to download for DEFAULT_MODEL_ID: its 2.14 B parameters (the default
``GlmAsrConfig``) stored in bf16, two bytes each, plus tokenizer and configs (the README's
"about 4.5 GB"). Only what the first start announces before asking the hub, which needs
the network; the download itself counts the exact sizes from the hub's file list."""
DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "bf16", "fp16", "fp32", "int8")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_TRUTHY = {"1", "true", "yes", "on"}

ProgressCallback = Callable[[DownloadProgress], None]


# --------------------------------------------------------------------------- resolution


def looks_like_path(model: str) -> bool:
    """True when ``model`` names a folder rather than a hub id like ``owner/name``."""
    if os.path.exists(os.path.expanduser(model)):
        return True
    if model.startswith((".", "~", "/", "\\")) or "\\" in model or re.match(r"^[A-Za-z]:", model):
        return True
    return model.count("/") != 1 or model.endswith("/")


def check_model_folder(folder: str | os.PathLike[str]) -> Path:
    """Check that ``folder`` holds a GLM-ASR checkpoint; return it resolved. Raises ModelError."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise ModelError(f"Model folder {path} does not exist.")
    if not path.is_dir():
        raise ModelError(f"Model path {path} is not a folder.")
    config = path / "config.json"
    if not config.is_file():
        raise ModelError(f"Model folder {path} has no config.json; it is not a model folder.")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"Model folder {path}: config.json can't be read ({exc}).") from None
    if model_type != "glmasr":
        raise ModelError(
            f"Model folder {path} holds a '{model_type}' model, not GLM-ASR (model_type 'glmasr')."
        )
    if not any(any(path.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        raise ModelError(f"Model folder {path} has no weights (*.safetensors or *.bin).")
    if not any((path / name).is_file() for name in PROCESSOR_FILES):
        raise ModelError(f"Model folder {path} has no processor_config.json.")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError(f"Model folder {path} has no tokenizer.")
    return path.resolve()


def offline_message(repo_id: str) -> str:
    return (
        f"Model '{repo_id}' is not downloaded and the hub can't be reached. Connect to the "
        "internet once, or choose a local model folder with --model PATH (Settings > Model)."
    )


def hub_offline() -> bool:
    """True when the environment forbids hub access (read now, not at import)."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUTHY
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_cache_dir() -> Path:
    """The standard Hugging Face hub cache, from the environment as it is now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def cached_snapshot(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The complete cached snapshot of ``repo_id``, or None. Never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id, cache_dir=str(cache_dir or hub_cache_dir()), local_files_only=True
        )
    except Exception:
        return None
    try:
        return check_model_folder(folder)
    except ModelError:
        return None


class _ByteCounter:
    """Adds up downloaded bytes over all files and reports them; raises Cancelled."""

    def __init__(
        self,
        total: int | None,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> None:
        self.total = total
        self.done = 0
        self.progress = progress
        self.cancel = cancel
        self.filename = ""
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()
        if n <= 0:
            return
        with self._lock:
            self.done += n
            done = self.done if self.total is None else min(self.done, self.total)
        if self.progress is not None:
            self.progress(DownloadProgress(done, self.total, self.filename))

    def tqdm_class(self) -> type:
        """A tqdm class that feeds this counter (and prints nothing)."""
        from tqdm.auto import tqdm

        counter = self

        class CountingTqdm(tqdm):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.pop("name", None)
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)
                initial = kwargs.get("initial") or 0
                if initial:
                    counter.add(int(initial))

            def update(self, n: float | None = 1) -> bool | None:
                counter.add(int(n or 0))
                return super().update(n)

        return CountingTqdm


def wanted_files(files: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    """The repository files worth fetching: no duplicate weight formats, no repo metadata."""
    names = [name for name, _ in files]
    has_safetensors = any(name.endswith(".safetensors") for name in names)
    skip = (".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".ckpt") if has_safetensors else ()
    return [
        (name, size)
        for name, size in files
        if not name.endswith(skip) and not name.startswith(".") and not name.endswith(".md")
    ]


def download_model(
    repo_id: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Download ``repo_id`` into the hub cache file by file, reporting bytes over all files.

    Raises ModelError (offline, not found, gated, disk) or Cancelled.
    """
    import inspect

    from huggingface_hub import HfApi, hf_hub_download

    cache = str(cache_dir or hub_cache_dir())
    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
        files = wanted_files([(s.rfilename, s.size) for s in (info.siblings or [])])
        revision = info.sha
    except Exception as exc:
        raise _hub_error(repo_id, exc) from None
    sizes = [size for _, size in files]
    total = sum(sizes) if sizes and all(size is not None for size in sizes) else None
    counter = _ByteCounter(total, progress, cancel)
    supports_tqdm = "tqdm_class" in inspect.signature(hf_hub_download).parameters
    folder: Path | None = None
    for filename, size in files:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        counter.filename = filename
        before = counter.done
        kwargs: dict[str, Any] = {"tqdm_class": counter.tqdm_class()} if supports_tqdm else {}
        try:
            local = hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache, **kwargs)
        except Cancelled:
            raise
        except Exception as exc:
            raise _hub_error(repo_id, exc) from None
        # Cached files report nothing; count what the file should have added.
        counter.add((size or 0) - (counter.done - before))
        folder = Path(local).parents[len(Path(filename).parts) - 1]
    if folder is None:
        raise ModelError(f"Model '{repo_id}' has no files on the hub.")
    if revision:
        _write_main_ref(Path(cache), repo_id, revision)
    return check_model_folder(folder)


def _write_main_ref(cache: Path, repo_id: str, revision: str) -> None:
    """Point the cache's ``refs/main`` at the downloaded commit, so offline runs find it."""
    ref = cache / ("models--" + repo_id.replace("/", "--")) / "refs" / "main"
    try:
        if not ref.is_file() or ref.read_text().strip() != revision:
            ref.parent.mkdir(parents=True, exist_ok=True)
            tmp = ref.with_suffix(".tmp")
            tmp.write_text(revision)
            os.replace(tmp, ref)
    except OSError:
        pass  # the download still worked; only the offline lookup will miss it


def _hub_error(repo_id: str, exc: BaseException) -> ModelError:
    """Turn a huggingface_hub / network exception into a one-line ModelError."""
    from huggingface_hub import errors

    if isinstance(exc, errors.GatedRepoError):
        return ModelError(
            f"Model '{repo_id}' needs access approval on the Hugging Face hub; log in with "
            "`hf auth login` or choose a local model folder with --model PATH."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return ModelError(f"Model '{repo_id}' was not found on the Hugging Face hub.")
    if isinstance(exc, errors.RevisionNotFoundError):
        return ModelError(f"Model '{repo_id}' has no such revision on the hub.")
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return ModelError(f"Not enough disk space to download model '{repo_id}'.")
    if isinstance(exc, errors.HfHubHTTPError) and getattr(exc, "response", None) is not None:
        status = getattr(exc.response, "status_code", None)
        if status is not None and status < 500 and status not in (408, 429):
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ModelError(f"Could not download model '{repo_id}': {line}")
    return ModelError(offline_message(repo_id))


def download_size(model: str) -> int | None:
    """Bytes a download of ``model`` is expected to take, known before asking the hub
    (only for the default model); None when unknown."""
    return DEFAULT_MODEL_BYTES if (model or "").strip() == DEFAULT_MODEL_ID else None


def find_local_model(model: str = DEFAULT_MODEL_ID) -> Path:
    """The model's folder on this machine: the folder given, or the cached snapshot.
    Never touches the network.

    Raises ModelNotDownloaded for a hub id that is not in the cache, ModelError for a
    bad folder or name (one line each).
    """
    model = (model or "").strip()
    if not model:
        raise ModelError(
            "No model given: use a hub id like 'zai-org/GLM-ASR-Nano-2512' or a folder."
        )
    if looks_like_path(model):
        return check_model_folder(model)
    if not _HUB_ID.match(model):
        raise ModelError(f"'{model}' is neither a model folder nor a hub id like 'owner/name'.")
    cached = cached_snapshot(model, hub_cache_dir())
    if cached is None:
        raise ModelNotDownloaded(f"Model '{model}' is not downloaded yet.")
    return cached


def resolve_model(
    model: str = DEFAULT_MODEL_ID,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """A local folder holding the model: the folder given, or the cached/downloaded snapshot.

    Raises ModelError with a one-line message, or Cancelled.
    """
    try:
        return find_local_model(model)
    except ModelNotDownloaded:
        pass
    model = model.strip()
    if hub_offline():
        raise ModelError(offline_message(model))
    return download_model(model, progress=progress, cancel=cancel, cache_dir=hub_cache_dir())


# --------------------------------------------------------------------------- device


def cpu_name() -> str:
    """The CPU model, e.g. "AMD EPYC 9654 96-Core Processor"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def cpu_flags() -> set[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("flags", "features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX-BF16)."""
    if {"avx512_bf16", "amx_bf16"} & cpu_flags():
        return True
    try:
        import torch

        return "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper()
    except (ImportError, AttributeError, RuntimeError):
        return False


def nvidia_gpu_present() -> bool:
    """A hint that the machine has an NVIDIA GPU and driver (without asking torch)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def _cuda_unavailable_reason(torch: Any) -> str | None:
    if getattr(torch.version, "cuda", None) is None:
        return "this torch build has no CUDA support (install a CUDA build of torch)"
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        return "CUDA is not available: no NVIDIA driver or GPU was found"
    return None


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(
    requested: str = "auto", dtype: str = "auto", weights_bytes: int = 0
) -> DeviceInfo:
    """Pick device and dtype: CUDA, then MPS, then CPU, unless ``requested`` says otherwise.

    A CUDA request that can't be met falls back to CPU with ``fallback_reason`` set; so does
    "auto" on a machine with an NVIDIA GPU whose torch build can't use it.
    ``weights_bytes`` (the checkpoint's size, :func:`checkpoint_bytes`) decides the dtype
    on a CPU without bf16 instructions (:func:`device_info_for`).
    """
    import torch

    requested = (requested or "auto").strip().lower()
    dtype = (dtype or "auto").strip().lower()
    if requested not in DEVICES:
        raise SettingsError(f"Unknown device '{requested}'; use one of {', '.join(DEVICES)}.")
    if dtype not in DTYPES:
        raise SettingsError(f"Unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}.")

    device = "cpu"
    reason: str | None = None
    if requested in ("auto", "cuda"):
        cuda_reason = _cuda_unavailable_reason(torch)
        if cuda_reason is None:
            device = "cuda"
        elif requested == "cuda":
            reason = cuda_reason
        elif requested == "auto" and not _mps_available(torch):
            expected = torch.version.cuda is not None or nvidia_gpu_present()
            reason = cuda_reason if expected else None
    if device == "cpu" and requested in ("auto", "mps") and reason is None:
        if _mps_available(torch):
            device = "mps"
        elif requested == "mps":
            reason = "Apple GPU (MPS) is not available on this machine"
    return device_info_for(device, dtype, reason, weights_bytes)


# From this checkpoint size on, "auto" is bf16 on every CPU: where the CPU has no bf16
# instructions, app.core.asr.cpu_half computes the products in float32 from the bf16
# weights. GLM-ASR-Nano then needs half the memory of float32 (5.2 GB at the peak of
# benchmarks/rtf.py's 5-minute file, against 9.8 GB) for about 7 % more time (RTF 1.32
# against 1.23 on a 2-core Zen 3), where PyTorch's own bf16 products there were up to
# 25x slower than float32. A small model is no burden in float32, and its products are
# too small for widening to pay: the test listener's batch of 16 through a 192 x 576
# layer took 73 us in float32 and 187 us widened.
HALF_ON_ANY_CPU_BYTES = 256 << 20


def checkpoint_bytes(folder: Path) -> int:
    """The size of the weight files in a model folder (0 where there are none)."""
    total = 0
    try:
        for path in Path(folder).iterdir():
            if path.suffix in (".safetensors", ".bin", ".pt", ".pth") and path.is_file():
                total += path.stat().st_size
    except OSError:
        return 0
    return total


def device_info_for(
    device: str, dtype: str = "auto", reason: str | None = None, weights_bytes: int = 0
) -> DeviceInfo:
    """DeviceInfo for a device already chosen, with the dtype resolved. On a CPU "auto" is
    bf16 where the CPU has bf16 instructions or the checkpoint has ``weights_bytes`` of at
    least :data:`HALF_ON_ANY_CPU_BYTES`, float32 otherwise."""
    import torch

    if dtype == "int8" and device != "cpu":
        # dynamic int8 is a CPU option: on a GPU, its native half precision is faster
        dtype = "auto"
    if device == "cuda":
        name = torch.cuda.get_device_name(torch.cuda.current_device())
        if dtype == "auto":
            dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    elif device == "mps":
        name = "Apple GPU"
        if dtype == "auto":
            dtype = "fp16"
    else:
        name = cpu_name()
        if dtype == "auto":
            large = weights_bytes >= HALF_ON_ANY_CPU_BYTES
            dtype = "bf16" if large or cpu_supports_bf16() else "fp32"
    return DeviceInfo(device=device, dtype=dtype, name=name, fallback_reason=reason)


def torch_dtype(dtype: str) -> Any:
    """The torch dtype for "bf16" / "fp16" / "fp32" (and "int8": fp32 around int8 Linears)."""
    import torch

    return {
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
        "fp32": torch.float32,
        "int8": torch.float32,
    }[dtype]


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of every ``nn.Linear`` (weights int8, activations
    quantised on the fly), the rest in fp32: the "fast CPU" precision.

    Linear layers are converted one at a time, so a bf16 model never exists in fp32 as a
    whole (2.14 B parameters would need 8.6 GB).
    """
    import torch
    from torch.ao.quantization import quantize_dynamic

    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Linear:
                holder = torch.nn.Sequential(child.float())
                quantized = quantize_dynamic(holder, {torch.nn.Linear}, dtype=torch.qint8)
                setattr(module, name, quantized[0])
    return model.float()


def default_batch_size(info: DeviceInfo) -> int:
    """Chunks decoded together: 16 on CUDA (when free memory can't be asked, see
    :func:`batch_size_for_memory`), 8 on MPS (not measured), 16 on CPU.

    CPU, measured with ``benchmarks/decode_sweep.py --padded`` (GLM-ASR-Nano's decoder,
    bf16, 2 cores): a decoding step costs 0.28 s at batch 8 and 0.35 s at batch 16, so 16
    gives 1.6x the tokens a second; past 16 the gain flattens (24: 1.06x, 32: 1.19x of 16)
    while the first results wait for a whole batch. The encoder and the prefill cost the
    same per chunk at any batch size."""
    return {"cuda": 16, "mps": 8}.get(info.device, 16)


# A CUDA batch is sized from the free memory after loading: this share of it, at most
# this many chunks. Measured on an H200 (benchmarks/README.md, "On a GPU"): with the
# decoding steps replayed from CUDA graphs a step's cost grows with the batch, and 64
# chunks sorted by length pad less than 256: 21.0 ms a chunk against 30.3, and an hour of
# speech at 240x real time against 199-202x.
CUDA_MEMORY_SHARE = 0.6
CUDA_MAX_BATCH = 64
_AUDIO_TOKENS_PER_S = 12.5  # after GLM-ASR's projector (30 s -> 375 tokens)
_ENCODER_FRAMES_PER_S = 50.0  # Whisper-like encoder positions (30 s -> 1500)
_PROMPT_TOKENS = 64


def chunk_memory_bytes(
    config: Any,
    dtype_bytes: int,
    window_s: float = 30.0,
    tokens_per_second: float = 8.0,
    fused_attention: bool = False,
) -> int:
    """A generous estimate of the GPU memory one chunk of a batch needs, from the config.

    Text side: the KV cache of every token (audio tokens + prompt + the token budget,
    rounded up as the static cache of :mod:`app.core.asr.static_decode` is) in every
    layer, the prefill's hidden and MLP activations and attention scores, and where each
    step listened (:mod:`app.core.asr.static_decode`'s recorder: every step's attention
    over the window's audio tokens, float32, 1.2 MiB for a 30 s window). Audio side:
    one encoder layer's live activations and, unless ``fused_attention`` (SDPA's fused
    kernels never hold them), its attention scores. Weights are not counted (they are
    loaded already, and the free memory is measured after that). On an H200 with SDPA:
    98 MiB for GLM-ASR-Nano in bf16, where its chunks took 41-88 MiB (benchmarks/README.md).
    """
    text = getattr(config, "text_config", config)
    audio = getattr(config, "audio_config", None)
    layers = int(getattr(text, "num_hidden_layers", 28))
    heads = int(getattr(text, "num_attention_heads", 16))
    hidden = int(getattr(text, "hidden_size", 2048))
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    mlp = int(getattr(text, "intermediate_size", 4 * hidden))
    prefill = math.ceil(window_s * _AUDIO_TOKENS_PER_S) + _PROMPT_TOKENS
    tokens = prefill + 16 + math.ceil(window_s * tokens_per_second)
    tokens = -(-tokens // LENGTH_STEP) * LENGTH_STEP  # the static cache's rounding
    kv_cache = 2 * layers * kv_heads * head_dim * dtype_bytes * tokens
    activations = prefill * (2 * hidden + 2 * mlp) * dtype_bytes + heads * prefill**2 * 4
    audio_tokens = -(-math.ceil(window_s * _AUDIO_TOKENS_PER_S) // GAZE_STEP) * GAZE_STEP
    gaze = tokens * audio_tokens * 4
    encoder = 0
    if audio is not None:
        frames = math.ceil(window_s * _ENCODER_FRAMES_PER_S)
        a_hidden = int(getattr(audio, "hidden_size", 1280))
        a_heads = int(getattr(audio, "num_attention_heads", 20))
        a_mlp = int(getattr(audio, "intermediate_size", 4 * a_hidden))
        encoder = frames * (4 * a_hidden + a_mlp) * dtype_bytes
        if not fused_attention:
            encoder += a_heads * frames**2 * 4
    return kv_cache + activations + gaze + encoder


def batch_size_for_memory(
    config: Any,
    free_bytes: int,
    dtype_bytes: int,
    window_s: float = 30.0,
    tokens_per_second: float = 8.0,
    fused_attention: bool = False,
) -> int:
    """Chunks per CUDA batch that fit in ``CUDA_MEMORY_SHARE`` of ``free_bytes`` (1 to
    ``CUDA_MAX_BATCH``)."""
    per_chunk = chunk_memory_bytes(
        config, dtype_bytes, window_s, tokens_per_second, fused_attention
    )
    fit = int(free_bytes * CUDA_MEMORY_SHARE // max(1, per_chunk))
    return max(1, min(CUDA_MAX_BATCH, fit))


def default_threads() -> int:
    """CPU threads for torch: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- loading


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


# transformers' lazy top-level module is not safe to import from two threads at once
# (one of them can get "cannot import name AutoProcessor"): every import of it here
# goes through this lock.
_IMPORT_LOCK = threading.Lock()


def import_runtime() -> tuple[Any, Any]:
    """Import torch and the parts of transformers :func:`load_model` uses, once (seconds
    of Python work: a caller may do it ahead, on another thread). Returns the
    processor and model classes."""
    global _imported
    with _IMPORT_LOCK, _collector_paused(freeze=not _imported):
        import torch  # noqa: F401
        from transformers import AutoProcessor, GlmAsrForConditionalGeneration

        _imported = True
    return AutoProcessor, GlmAsrForConditionalGeneration


_imported = False


@contextlib.contextmanager
def _collector_paused(freeze: bool) -> Iterator[None]:
    """With ``freeze`` (the first import of torch and transformers): the garbage
    collector paused inside, and what was made put in its permanent generation after
    (``gc.freeze``); else nothing.

    The imports make about 380,000 objects. Python's collector walks all of them in each
    full collection: five ran during the imports (0.66 s of the 3.5 s, measured on the
    command line), and at exit one more took 1.1 s of the 1.2 s between the written file
    and the end of the process. Modules and classes live as long as the process; frozen
    objects are still freed when their last reference goes (only cycles would stay).
    With the pause and the freeze: no full collection during the run, and 0.28 s at exit.
    """
    if not freeze:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def load_model(folder: Path, info: DeviceInfo) -> tuple[Any, Any, DeviceInfo]:
    """Load model and processor from ``folder`` onto ``info.device``.

    Out of GPU memory falls back to the CPU (the returned DeviceInfo says why).
    Raises ModelError with a one-line message.
    """
    AutoProcessor, GlmAsrForConditionalGeneration = import_runtime()
    from transformers.utils import logging as transformers_logging

    # Murmur says "Loading ..." itself; transformers' own weights bar would print
    # to stderr, even after a Ctrl+C while the loading thread finishes.
    transformers_logging.disable_progress_bar()
    try:
        processor = AutoProcessor.from_pretrained(str(folder))
    except Exception as exc:
        raise ModelError(
            f"Could not load the processor from {folder}: {_first_line(exc)}"
        ) from None
    try:
        # int8: the checkpoint's own dtype, then quantised Linear by Linear (quantize_int8)
        dtype = "auto" if info.dtype == "int8" else torch_dtype(info.dtype)
        model = GlmAsrForConditionalGeneration.from_pretrained(str(folder), dtype=dtype)
    except Exception as exc:
        raise ModelError(f"Could not load the model from {folder}: {_first_line(exc)}") from None
    model.eval()
    if info.dtype == "int8":
        model = quantize_int8(model)
    if info.device != "cpu":
        try:
            model.to(info.device)
        except Exception as exc:
            if not _is_oom(exc):
                raise ModelError(
                    f"Could not move the model to {info.device}: {_first_line(exc)}"
                ) from None
            model.to("cpu")
            _empty_cuda_cache()
            cpu = device_info_for(
                "cpu",
                "auto",
                f"not enough GPU memory for the model on {info.name}",
                checkpoint_bytes(folder),
            )
            model.to(torch_dtype(cpu.dtype))
            info = cpu
    return model, processor, info


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
