"""Typed, versioned user settings, stored as JSON under platformdirs.

``MURMUR_CONFIG_DIR`` overrides the folder (tests point it at tmp_path);
``MURMUR_DATA_DIR`` does the same for the data folder (:func:`data_dir`).
Unknown keys are ignored, missing keys take defaults, and a file from an
older version is migrated, so a settings file never stops the app starting.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.audio.media import CHANNEL_CHOICES
from app.core.errors import SettingsError
from app.core.transcript.chinese import CHINESE_SCRIPTS

if TYPE_CHECKING:
    from app.core.asr.engine import EngineOptions
    from app.core.audio.chunking import ChunkOptions
    from app.core.pipeline import PipelineOptions
    from app.core.transcript.checks import CheckLimits
    from app.core.transcript.cues import CueOptions

log = logging.getLogger(__name__)

SETTINGS_VERSION = 4
DEFAULT_MODEL_ID = "zai-org/GLM-ASR-Nano-2512"
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "bf16", "fp16", "fp32", "int8")
EXPORT_FORMATS = ("srt", "vtt", "txt", "docx", "json")
# Packing speech across long pauses into full windows (ChunkOptions.pack): "auto" packs
# where the decoder's attention is recorded, on a CPU and a GPU (unless the model is known
# not to place the words of packed windows).
PACKING_CHOICES = ("auto", "on", "off")
DICTATION_MODES = ("toggle", "hold")  # press to start/stop, or hold while speaking
DICTATION_OUTPUTS = ("paste", "type", "copy")
DICTATION_ENDINGS = ("none", "space", "newline")
DEFAULT_DICTATION_SHORTCUT = "<ctrl>+<alt>+d"
# Speaker detection per job: off, auto (estimate the count) or a number of speakers.
MAX_SPEAKERS_CHOICE = 10
SPEAKER_CHOICES = ("off", "auto", *(str(n) for n in range(2, MAX_SPEAKERS_CHOICE + 1)))


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    model: str = DEFAULT_MODEL_ID
    device: str = "auto"
    precision: str = "auto"
    export_formats: list[str] = field(default_factory=lambda: ["srt", "txt"])
    export_dir: str = ""  # "" = next to each input
    last_export_dir: str = ""
    context: str = ""
    hotwords: list[str] = field(default_factory=list)
    max_pause_s: float = 1.0
    # Pack speech across long pauses into model windows (version 4; PACKING_CHOICES):
    # about 3x faster on a CPU, cue starts a little less exact (ChunkOptions.pack).
    packing: str = "auto"
    max_chars_latin: int = 42
    max_chars_cjk: int = 16
    max_lines: int = 2
    min_duration_s: float = 1.0
    max_duration_s: float = 7.0
    # Reading speed, in characters a second (0: no limit). Chinese is read by
    # the character, about 9 a second; Latin text about 17 (spaces counted).
    max_cps_latin: float = 17.0
    max_cps_cjk: float = 9.0
    # The least time between two cues (subtitle checks and fixes; about 2 frames).
    min_gap_s: float = 0.08
    chinese_script: str = "original"  # see app.core.transcript.chinese.CHINESE_SCRIPTS
    txt_timestamps: bool = False
    # auto: mix down unless the channels cancel out; mix, left or right by hand
    channel: str = "auto"
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    # Recording and dictation (version 2).
    input_device: str = ""  # the input device's name; "" = the system default
    dictation_pause_s: float = 0.5  # silence that ends an utterance
    dictation_max_utterance_s: float = 30.0  # longer speech is cut (also at the model's window)
    # Dictation into other applications (version 2).
    dictation_enabled: bool = False  # the global shortcut, and staying in the tray
    dictation_shortcut: str = DEFAULT_DICTATION_SHORTCUT  # pynput syntax
    dictation_mode: str = "toggle"
    dictation_output: str = "paste"
    dictation_ending: str = "space"  # what follows each dictated text
    # Speaker detection (version 3): the default for new jobs (SPEAKER_CHOICES), and
    # whether exports carry the speakers' names.
    speakers: str = "off"
    export_speakers: bool = True

    def validate(self) -> list[str]:
        """Return one message per invalid value (empty when all is well)."""
        errors: list[str] = []
        if not self.model.strip():
            errors.append("Model: give a hub id or a local folder.")
        if self.device not in DEVICES:
            errors.append(f"Device: choose one of {', '.join(DEVICES)}.")
        if self.precision not in PRECISIONS:
            errors.append(f"Precision: choose one of {', '.join(PRECISIONS)}.")
        bad = [f for f in self.export_formats if f not in EXPORT_FORMATS]
        if bad:
            errors.append(f"Export formats: unknown {', '.join(bad)}.")
        if self.export_dir and not Path(self.export_dir).expanduser().is_dir():
            errors.append(f"Export folder does not exist: {self.export_dir}")
        if not 0.1 <= self.max_pause_s <= 10.0:
            errors.append("Longest pause inside a cue: between 0.1 and 10 s.")
        if not 10 <= self.max_chars_latin <= 120:
            errors.append("Characters per line (Latin): between 10 and 120.")
        if not 4 <= self.max_chars_cjk <= 60:
            errors.append("Characters per line (CJK): between 4 and 60.")
        if not 1 <= self.max_lines <= 4:
            errors.append("Lines per cue: between 1 and 4.")
        if not 0.2 <= self.min_duration_s <= 10.0:
            errors.append("Minimum cue duration: between 0.2 and 10 s.")
        if not 1.0 <= self.max_duration_s <= 30.0:
            errors.append("Maximum cue duration: between 1 and 30 s.")
        if self.packing not in PACKING_CHOICES:
            errors.append(f"Packing: choose one of {', '.join(PACKING_CHOICES)}.")
        if self.channel not in CHANNEL_CHOICES:
            errors.append(f"Channel: choose one of {', '.join(CHANNEL_CHOICES)}.")
        if self.min_duration_s > self.max_duration_s:
            errors.append("Minimum cue duration must not exceed the maximum.")
        if not (self.max_cps_latin == 0 or 5.0 <= self.max_cps_latin <= 40.0):
            errors.append("Reading speed (Latin): 0 (no limit) or 5 to 40 characters a second.")
        if not (self.max_cps_cjk == 0 or 2.0 <= self.max_cps_cjk <= 30.0):
            errors.append("Reading speed (CJK): 0 (no limit) or 2 to 30 characters a second.")
        if not 0.0 <= self.min_gap_s <= 1.0:
            errors.append("Least gap between cues: between 0 and 1 s.")
        if self.chinese_script not in CHINESE_SCRIPTS:
            errors.append(f"Chinese characters: choose one of {', '.join(CHINESE_SCRIPTS)}.")
        if not 0.2 <= self.dictation_pause_s <= 3.0:
            errors.append("Pause that ends a dictated utterance: between 0.2 and 3 s.")
        if not 2.0 <= self.dictation_max_utterance_s <= 60.0:
            errors.append("Longest dictated utterance: between 2 and 60 s.")
        if self.dictation_mode not in DICTATION_MODES:
            errors.append(f"Dictation mode: choose one of {', '.join(DICTATION_MODES)}.")
        if self.dictation_output not in DICTATION_OUTPUTS:
            errors.append(f"Dictation output: choose one of {', '.join(DICTATION_OUTPUTS)}.")
        if self.dictation_ending not in DICTATION_ENDINGS:
            errors.append(f"After each dictation: choose one of {', '.join(DICTATION_ENDINGS)}.")
        if self.speakers not in SPEAKER_CHOICES:
            errors.append("Detect speakers: off, auto or a number from 2 to 10.")
        if shortcut_error(self.dictation_shortcut):
            errors.append(f"Dictation shortcut: {shortcut_error(self.dictation_shortcut)}")
        return errors

    # -- views onto the core's option types --------------------------------
    def prompt_context(self) -> str:
        """The user's context plus hot words, as one line for the prompt."""
        parts = [self.context.strip()]
        words = [w.strip() for w in self.hotwords if w.strip()]
        if words:
            parts.append("Terms: " + ", ".join(words))
        return " ".join(p for p in parts if p)

    def engine_options(self) -> EngineOptions:
        from app.core.asr.engine import EngineOptions

        return EngineOptions(
            model=self.model,
            device=self.device,
            dtype=self.precision,
            context=self.prompt_context(),
        )

    def cue_options(self) -> CueOptions:
        from app.core.transcript.cues import CueOptions

        return CueOptions(
            max_chars_latin=self.max_chars_latin,
            max_chars_cjk=self.max_chars_cjk,
            max_lines=self.max_lines,
            min_duration_s=self.min_duration_s,
            max_duration_s=self.max_duration_s,
            max_cps_latin=self.max_cps_latin,
            max_cps_cjk=self.max_cps_cjk,
        )

    def check_limits(self) -> CheckLimits:
        """The limits the editor's subtitle checks and fixes use (the export's, plus the gap)."""
        from app.core.transcript.checks import CheckLimits

        return CheckLimits(cues=self.cue_options(), min_gap_s=self.min_gap_s)

    def chunk_options(self) -> ChunkOptions:
        from app.core.audio.chunking import ChunkOptions

        pack = {"auto": None, "on": True, "off": False}[self.packing]
        return ChunkOptions(max_pause_s=self.max_pause_s, pack=pack)

    def pipeline_options(self) -> PipelineOptions:
        from app.core.pipeline import PipelineOptions

        return PipelineOptions(
            chunks=self.chunk_options(),
            cues=self.cue_options(),
            channel=self.channel,
            chinese=self.chinese_script,
            speakers=None if self.speakers == "off" else self.speakers,
        )


_MODIFIERS = {"ctrl", "alt", "shift", "cmd", "alt_gr", "super"}


def shortcut_error(text: str) -> str:
    """Why a shortcut in pynput's syntax (``<ctrl>+<alt>+d``) is unusable; "" if fine.

    Checked without pynput so that settings stay importable headless."""
    parts = [p.strip() for p in text.split("+")] if text.strip() else []
    if not parts or any(not p for p in parts):
        return "write it like <ctrl>+<alt>+d."
    keys = [p for p in parts if not (p.startswith("<") and p[1:-1] in _MODIFIERS)]
    if len(keys) != 1:
        return "use modifiers such as <ctrl>, <alt>, <shift>, <cmd> and one key."
    key = keys[0]
    if not (len(key) == 1 or (key.startswith("<") and key.endswith(">") and len(key) > 2)):
        return f"unknown key {key!r}; a letter, or a name in angle brackets such as <f9>."
    if len(parts) == 1 and not (key.startswith("<f") and key[2:-1].isdigit()):
        return "add a modifier such as <ctrl>, or use a function key such as <f9>."
    return ""


def _user_folder(variable: str, kind: str) -> Path:
    """``$variable`` if set, else platformdirs' ``user_<kind>_dir("Murmur")``."""
    override = os.environ.get(variable)
    if override:
        return Path(override)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")("Murmur", appauthor=False))


def config_dir() -> Path:
    """Where settings live (``MURMUR_CONFIG_DIR`` overrides; tests point it at tmp_path)."""
    return _user_folder("MURMUR_CONFIG_DIR", "config")


def data_dir() -> Path:
    """Murmur's data: the library and recordings (``MURMUR_DATA_DIR`` overrides)."""
    return _user_folder("MURMUR_DATA_DIR", "data")


def log_dir() -> Path:
    """Where the window's log goes (``MURMUR_LOG_DIR`` overrides; tests point it at tmp_path)."""
    return _user_folder("MURMUR_LOG_DIR", "log")


def settings_file() -> Path:
    return config_dir() / "settings.json"


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("version", 0)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        log.warning("settings from a newer Murmur (version %r); reading what fits", version)
    # Version 0 (unversioned) had the same keys as 1; versions 2 (input device,
    # dictation) and 3 (speakers) only added keys, which take their defaults.
    # Version 4 turned the box "pack_windows" (off by default) into "packing": a ticked
    # box stays on; an unticked one was the default, and becomes the new default, auto.
    if isinstance(version, int) and version < 4 and "pack_windows" in data:
        data.setdefault("packing", "on" if data.pop("pack_windows") is True else "auto")
    data["version"] = SETTINGS_VERSION
    return data


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Return value if it has the default's type (ints are accepted for floats)."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else default
    if isinstance(default, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else default
    if isinstance(default, list):
        return [str(v) for v in value] if isinstance(value, list) else default
    if isinstance(default, str):
        return value if isinstance(value, str) else default
    return default


def settings_from_dict(data: dict[str, Any]) -> Settings:
    data = _migrate(dict(data))
    defaults = Settings()
    kwargs = {
        f.name: _coerce(f.name, data[f.name], getattr(defaults, f.name))
        for f in fields(Settings)
        if f.name in data
    }
    settings = Settings(**kwargs)
    # Values that are well-typed but out of range fall back one by one.
    if settings.validate():
        for f in fields(Settings):
            trial = Settings(**{**asdict(settings), f.name: getattr(defaults, f.name)})
            if len(trial.validate()) < len(settings.validate()):
                settings = trial
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """Load settings; a missing or unreadable file gives the defaults."""
    path = path or settings_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("could not read settings %s (%s); using defaults", path, exc)
        return Settings()
    if not isinstance(data, dict):
        return Settings()
    return settings_from_dict(data)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Validate and write atomically. Raises SettingsError with one line."""
    errors = settings.validate()
    if errors:
        raise SettingsError(errors[0])
    path = path or settings_file()
    text = json.dumps(asdict(settings), indent=2, ensure_ascii=False) + "\n"
    from app.core.atomic import atomic_write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:
        raise SettingsError(f"Could not save settings to {path}: {exc.strerror or exc}") from exc
    return path
