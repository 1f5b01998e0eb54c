from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import SettingsError
from app.core.settings import (
    SETTINGS_VERSION,
    Settings,
    load_settings,
    save_settings,
    settings_file,
)


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config dir ü"
    monkeypatch.setenv("MURMUR_CONFIG_DIR", str(folder))
    return folder


def test_defaults_when_missing(config_dir: Path) -> None:
    assert settings_file() == config_dir / "settings.json"
    assert load_settings() == Settings()


def test_round_trip(config_dir: Path) -> None:
    s = Settings(
        model="/models/glm asr",
        device="cpu",
        precision="fp32",
        export_formats=["vtt", "docx"],
        context="Ålesund, 李雷",
        hotwords=["Murmur"],
        max_lines=1,
        max_chars_latin=32,
        channel="right",
    )
    path = save_settings(s)
    assert path.parent == config_dir
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == SETTINGS_VERSION
    assert "李雷" in path.read_text(encoding="utf-8")
    assert load_settings() == s
    assert not list(config_dir.glob("*.tmp*")), "temporary files left behind"


@pytest.mark.parametrize(
    "change",
    [
        {"device": "tpu"},
        {"precision": "int3"},
        {"export_formats": ["srt", "pdf"]},
        {"max_lines": 0},
        {"min_duration_s": 8.0, "max_duration_s": 7.0},
        {"model": "  "},
        {"export_dir": "/nonexistent/folder/for/murmur"},
        {"channel": "centre"},
    ],
)
def test_invalid_values_refused(change: dict) -> None:
    s = Settings(**change)
    assert s.validate()
    with pytest.raises(SettingsError):
        save_settings(s)
    assert not settings_file().exists()


def test_bad_file_falls_back_per_field(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    settings_file().write_text(
        json.dumps({"device": "cpu", "max_lines": "three", "max_pause_s": 99, "extra": 1}),
        encoding="utf-8",
    )
    s = load_settings()
    assert s.device == "cpu"  # good values kept
    assert s.max_lines == Settings().max_lines  # wrong type -> default
    assert s.max_pause_s == Settings().max_pause_s  # out of range -> default
    assert not s.validate()


def test_corrupt_file_gives_defaults(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    settings_file().write_bytes(b"\x00\xff{not json")
    assert load_settings() == Settings()


def test_option_views() -> None:
    s = Settings(context="A talk about Qt.", hotwords=["PySide6", " QThread "], max_pause_s=0.7)
    assert s.prompt_context() == "A talk about Qt. Terms: PySide6, QThread"
    assert s.cue_options().max_lines == s.max_lines
    assert s.pipeline_options().chunks.max_pause_s == 0.7
    assert s.pipeline_options().channel == "auto"
    assert Settings(channel="left").pipeline_options().channel == "left"
    eo = s.engine_options()
    assert eo.context == s.prompt_context() and eo.model == s.model


def test_version_1_file_gains_the_dictation_settings_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"version": 1, "model": "m", "max_lines": 3}', encoding="utf-8")
    s = load_settings(path)
    assert (s.model, s.max_lines) == ("m", 3)
    assert s.version == SETTINGS_VERSION == 4
    assert s.dictation_enabled is False
    assert (s.dictation_mode, s.dictation_output, s.dictation_ending) == (
        "toggle",
        "paste",
        "space",
    )
    assert s.dictation_shortcut == "<ctrl>+<alt>+d"


def test_bad_dictation_values_fall_back_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        '{"version": 2, "dictation_mode": "whisper", "dictation_output": "type",'
        ' "dictation_shortcut": "d", "dictation_ending": "newline"}',
        encoding="utf-8",
    )
    s = load_settings(path)
    assert s.dictation_mode == "toggle"  # unknown: default
    assert s.dictation_shortcut == "<ctrl>+<alt>+d"  # no modifier: default
    assert (s.dictation_output, s.dictation_ending) == ("type", "newline")  # kept


@pytest.mark.parametrize(
    ("shortcut", "ok"),
    [
        ("<ctrl>+<alt>+d", True),
        ("<cmd>+<shift>+<space>", True),
        ("<f9>", True),
        ("d", False),
        ("<ctrl>+", False),
        ("<ctrl>+a+b", False),
        ("", False),
    ],
)
def test_shortcut_syntax(shortcut: str, ok: bool) -> None:
    from app.core.settings import shortcut_error

    assert (shortcut_error(shortcut) == "") is ok


def test_version_1_file_migrates_with_recording_defaults(config_dir: Path) -> None:
    """A file from before recording existed keeps its values and gets the new defaults."""
    config_dir.mkdir(parents=True)
    settings_file().write_text(
        json.dumps({"version": 1, "device": "cpu", "max_lines": 1}), encoding="utf-8"
    )
    s = load_settings()
    assert (s.version, s.device, s.max_lines) == (SETTINGS_VERSION, "cpu", 1)
    assert s.input_device == "" and s.dictation_pause_s == Settings().dictation_pause_s
    s.input_device = "USB Mic: Audio (hw:1,0)"
    save_settings(s)
    assert load_settings().input_device == "USB Mic: Audio (hw:1,0)"
    assert Settings(dictation_pause_s=0.05).validate()
    assert Settings(dictation_max_utterance_s=0.5).validate()


def test_version_2_file_gains_speaker_detection_off(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"version": 2, "max_lines": 1}', encoding="utf-8")
    s = load_settings(path)
    assert (s.version, s.max_lines, s.speakers, s.export_speakers) == (4, 1, "off", True)
    assert s.pipeline_options().speakers is None  # off: no speaker stage


@pytest.mark.parametrize(
    ("saved", "packing", "pack"),
    [(True, "on", True), (False, "auto", None), ("yes", "auto", None), (None, "auto", None)],
)
def test_version_3_packing_box_becomes_the_packing_choice(
    tmp_path: Path, saved: object, packing: str, pack: bool | None
) -> None:
    """The box (off by default) becomes a choice: ticked stays on, the default becomes auto."""
    path = tmp_path / "settings.json"
    body = {"version": 3, "max_lines": 1}
    if saved is not None:
        body["pack_windows"] = saved
    path.write_text(json.dumps(body), encoding="utf-8")
    s = load_settings(path)
    assert (s.version, s.max_lines, s.packing) == (4, 1, packing)
    assert s.pipeline_options().chunks.pack is pack
    save_settings(s, path)
    assert "pack_windows" not in json.loads(path.read_text(encoding="utf-8"))
    assert Settings(packing="sometimes").validate() == ["Packing: choose one of auto, on, off."]


@pytest.mark.parametrize(("value", "stage"), [("auto", "auto"), ("3", "3"), ("10", "10")])
def test_speaker_choice_reaches_the_pipeline(tmp_path: Path, value: str, stage: str) -> None:
    s = Settings(speakers=value)
    assert not s.validate()
    assert s.pipeline_options().speakers == stage
    save_settings(s, tmp_path / "s.json")
    assert load_settings(tmp_path / "s.json").speakers == value


@pytest.mark.parametrize("bad", ["1", "11", "many", ""])
def test_bad_speaker_choice_falls_back_to_off(tmp_path: Path, bad: str) -> None:
    assert Settings(speakers=bad).validate()
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 3, "speakers": bad, "max_lines": 3}), encoding="utf-8")
    s = load_settings(path)
    assert (s.speakers, s.max_lines) == ("off", 3)
