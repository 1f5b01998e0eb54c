"""Log-mel features of padded windows, without computing the padding.

The GLM-ASR processor pads every chunk with zeros to a whole window (30 s) before its
Whisper feature extractor computes the log-mel spectrogram. A chunk of 3 s then pays
for 30 s of STFT and mel products, and on CPU that was 15 % of the model's thread on an
hour of speech. The frames that see only zeros all come out the same: the clamp floor,
raised to the window's maximum minus 8. :func:`log_mel` computes the frames that see
audio and fills the rest with that value: the same features, for the audio's share of
the cost.

:func:`install` puts it in place of the extractor's own method on one instance. It
leaves extractors it does not recognise alone (dither, a non-zero padding value,
another class), so that they keep their own numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _speech_end(waveform: np.ndarray) -> int:
    """One past the last non-zero sample of any row (0 when all are zero)."""
    nonzero = waveform != 0
    if not nonzero.any():
        return 0
    columns = np.flatnonzero(nonzero.any(axis=0))
    return int(columns[-1]) + 1


def log_mel(extractor: Any, waveform: np.ndarray, device: str = "cpu") -> np.ndarray:
    """What ``extractor._torch_extract_fbank_features(waveform, device)`` gives for a
    batch ``(rows, samples)`` of zero-padded windows, computed over the audio only."""
    import torch

    rows, samples = waveform.shape
    hop, n_fft = int(extractor.hop_length), int(extractor.n_fft)
    frames = samples // hop  # the extractor drops the STFT's last frame
    # Frames past this see only zeros, even through the STFT's reflected edge.
    keep = min(samples, -(-(_speech_end(waveform) + n_fft + hop) // hop) * hop)
    wave = torch.from_numpy(np.ascontiguousarray(waveform[:, :keep])).to(device, torch.float32)
    window = torch.hann_window(n_fft, device=device)
    stft = torch.stft(wave, n_fft, hop, window=window, return_complex=True)
    last_dropped = stft[..., :-1]
    power = last_dropped.real.square() + last_dropped.imag.square()
    mel = torch.from_numpy(extractor.mel_filters).to(device, torch.float32).T @ power
    log_spec = torch.clamp(mel, min=1e-10).log10()
    floor = torch.clamp(torch.zeros((), device=device), min=1e-10).log10()  # a zero frame
    peak = log_spec.amax(dim=(1, 2), keepdim=True)
    if keep < samples:
        peak = torch.maximum(peak, floor)
    out = torch.empty((rows, log_spec.shape[1], frames), dtype=torch.float32, device=device)
    out[..., : log_spec.shape[2]] = (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0
    out[..., log_spec.shape[2] :] = (torch.maximum(floor, peak - 8.0) + 4.0) / 4.0
    return out.cpu().numpy()


def install(extractor: Any) -> bool:
    """Use :func:`log_mel` for ``extractor``'s batches; False when it does not apply."""
    if type(extractor).__name__ != "WhisperFeatureExtractor":
        return False
    if float(getattr(extractor, "dither", 0.0)) != 0.0:
        return False
    if float(getattr(extractor, "padding_value", 0.0)) != 0.0:
        return False
    if not all(hasattr(extractor, a) for a in ("hop_length", "n_fft", "mel_filters")):
        return False
    original = extractor._torch_extract_fbank_features

    def extract(waveform: np.ndarray, device: str = "cpu") -> np.ndarray:
        if not isinstance(waveform, np.ndarray) or waveform.ndim != 2:
            return original(waveform, device)
        return log_mel(extractor, waveform, device)

    extractor._torch_extract_fbank_features = extract
    return True
