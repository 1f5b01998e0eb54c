"""Speaker embeddings: Resemblyzer's GE2E voice encoder, loaded by Murmur itself.

The weights (``pretrained.pt``, 17 MB: a 3-layer LSTM 40 mels -> 256, then
linear + ReLU, L2-normalised) ship inside the ``resemblyzer==0.1.4`` wheel on
PyPI, so nothing is downloaded at run time and no account is needed.

Why not ``import resemblyzer``: importing it imports ``webrtcvad`` (a C extension
with no wheels, so installing needs a compiler) and ``librosa`` (numba, llvmlite,
scikit-learn: hundreds of MB). Murmur already has its own VAD and only needs the
mel features, so the wheel is installed with ``pip install --no-deps`` (see
``packaging/setup.sh``) and used only as the carrier of the weights: the file is
found through the package metadata, without importing the package. The mel
features below are computed the way resemblyzer's ``audio.py`` computes them
(librosa's power mel spectrogram: 16 kHz, 25 ms periodic Hann window, 10 ms hop,
centred with zero padding, 40 Slaney mel bands, *not* logarithmic), and the
result is checked against resemblyzer's own embeddings in
``tests/test_speakers.py`` (vectors computed once with resemblyzer and written
to ``tests/fixtures/speakers/``).
"""

from __future__ import annotations

import importlib.metadata
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import MurmurError

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
HIDDEN = 256
LAYERS = 3
EMBEDDING_SIZE = 256
WEIGHTS_PACKAGE = "resemblyzer"
WEIGHTS_VERSION = "0.1.4"
_WEIGHTS_FILE = "resemblyzer/pretrained.pt"


class SpeakerModelMissing(MurmurError):
    """The speaker encoder's weights are not installed."""


def weights_path() -> Path:
    """Where ``pretrained.pt`` of the installed resemblyzer wheel lies (not imported)."""
    hint = f'pip install --no-deps "{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}"'
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise SpeakerModelMissing(
            f"Speaker detection needs the voice encoder from resemblyzer: {hint}"
        ) from None
    path = Path(str(dist.locate_file(_WEIGHTS_FILE)))
    if not path.is_file():
        raise SpeakerModelMissing(f"The voice encoder file is missing ({path}): {hint}")
    return path


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) Slaney mel filters, as librosa.filters.mel makes them."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=N_MELS,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE / 2,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    ).astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram of 16 kHz mono float samples (1 + n // 160 frames)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if x.numel() == 0:
        return np.zeros((0, N_MELS), np.float32)
    spec = torch.stft(
        x,
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()  # (freq, frames)
    mel = torch.from_numpy(_mel_basis()).T @ power
    return mel.T.contiguous().numpy()


class VoiceEncoder:
    """The GE2E LSTM with resemblyzer's weights; CPU. ``embed`` may run in several
    threads at once (the modules are only read, under ``inference_mode``)."""

    def __init__(self, path: Path | None = None) -> None:
        import torch

        state = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
        state = state.get("model_state", state)
        self._lstm = torch.nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self._linear = torch.nn.Linear(HIDDEN, EMBEDDING_SIZE)
        self._lstm.load_state_dict(
            {k.removeprefix("lstm."): v for k, v in state.items() if k.startswith("lstm.")}
        )
        self._linear.load_state_dict(
            {k.removeprefix("linear."): v for k, v in state.items() if k.startswith("linear.")}
        )
        self._lstm.eval()
        self._linear.eval()

    def embed(self, mels: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(n, frames, 40) mel windows of one length -> (n, 256) unit vectors."""
        import torch

        out = np.zeros((len(mels), EMBEDDING_SIZE), np.float32)
        with torch.inference_mode():
            for lo in range(0, len(mels), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(mels[lo : lo + batch_size]))
                _, (hidden, _) = self._lstm(batch)
                raw = torch.relu(self._linear(hidden[-1]))
                norm = raw.norm(dim=1, keepdim=True).clamp_min(1e-12)
                out[lo : lo + len(batch)] = (raw / norm).numpy()
        return out


_encoder_lock = threading.Lock()
_encoder: dict[str, Any] = {}


def shared_encoder() -> VoiceEncoder:
    """One encoder per process, loaded on first use."""
    with _encoder_lock:
        if "model" not in _encoder:
            _encoder["model"] = VoiceEncoder()
        return _encoder["model"]
