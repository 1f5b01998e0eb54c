"""`murmur library ...` and the library side of `murmur transcribe` (tiny model, no Qt)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from app.cli import library as library_cli
from app.cli import transcribe as transcribe_cli
from app.core.settings import data_dir
from app.core.store import Library, NewJob
from app.core.transcript import Segment
from tests import speech
from tests.test_library import read_only_folder


def lib_cli(*args: str | Path) -> tuple[int, str, str]:
    out = io.StringIO()
    err = io.StringIO()
    old = library_cli.sys.stderr
    library_cli.sys.stderr = err
    try:
        code = library_cli.run([str(a) for a in args], stdout=out)
    finally:
        library_cli.sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def transcribe(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    code = transcribe_cli.run([str(a) for a in args], stderr=err)
    return code, err.getvalue()


@pytest.fixture()
def filled() -> dict[str, int]:
    with Library.open() as lib:
        a = lib.create(NewJob(title="Standup", media_path="/m/standup.m4a", status="done"))
        lib.save_segments(
            a, [Segment(0.5, 2.0, "Good morning team"), Segment(2.5, 4.0, "Blockers?")]
        )
        b = lib.create(
            NewJob(title="会议", media_path="/m/会议.mp3", kind="recording", status="done")
        )
        lib.save_segments(b, [Segment(0.0, 1.5, "今天开会"), Segment(1.5, 3.25, "讨论预算问题")])
        lib.update(b, duration=3.25)
    return {"standup": a, "meeting": b}


def test_list_json_has_the_promised_keys_newest_first(filled: dict[str, int]) -> None:
    code, out, err = lib_cli("list", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [e["id"] for e in data] == [filled["meeting"], filled["standup"]]
    assert {"id", "title", "media", "kind", "status", "duration", "created"} <= set(data[0])
    assert (data[0]["title"], data[0]["kind"], data[0]["duration"]) == ("会议", "recording", 3.25)
    code, out, _ = lib_cli("list")
    assert code == 0 and "会议" in out.splitlines()[0] and "Standup" in out.splitlines()[1]


def test_search_json_gives_id_start_and_context(filled: dict[str, int]) -> None:
    code, out, err = lib_cli("search", "预算", "--json")
    assert code == 0, err
    (match,) = json.loads(out)
    assert (match["transcription_id"], match["start"], match["row"]) == (filled["meeting"], 1.5, 1)
    assert match["context"] == "今天开会 讨论预算问题"
    code, out, _ = lib_cli("search", "morning", "TEAM")
    assert code == 0 and out.count("\n") == 1 and "Standup" in out


@pytest.mark.parametrize("fmt", ["srt", "vtt", "txt", "docx", "json"])
def test_export_every_format(filled: dict[str, int], tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"out.{fmt}"
    code, out, err = lib_cli("export", str(filled["meeting"]), "--format", fmt, "-o", target)
    assert code == 0, err
    assert out.strip() == f"wrote {target}"
    if fmt == "docx":
        import docx

        text = "\n".join(p.text for p in docx.Document(str(target)).paragraphs)
    else:
        text = target.read_text(encoding="utf-8")
    assert "讨论预算问题" in text
    if fmt == "json":
        assert [s["text"] for s in json.loads(text)["segments"]] == ["今天开会", "讨论预算问题"]


def test_export_default_name_and_share_file_round_trip(
    filled: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = lib_cli("export", str(filled["standup"]), "-f", "murmur")
    assert code == 0, err
    share = tmp_path / "standup.murmur.json"
    assert out.strip() == "wrote standup.murmur.json" and share.is_file()
    code, out, err = lib_cli("delete", str(filled["standup"]))
    assert code == 0 and lib_cli("search", "morning")[1] == ""
    code, out, err = lib_cli("import", share)
    assert code == 0, err
    new_id = int(out.strip().split("#")[1])
    assert json.loads(lib_cli("search", "morning", "--json")[1])[0]["transcription_id"] == new_id
    assert lib_cli("rename", str(new_id), "Monday standup")[0] == 0
    listed = {e["id"]: e for e in json.loads(lib_cli("list", "--json")[1])}
    assert listed[new_id]["title"] == "Monday standup"
    # an imported transcript keeps the date it was made: it sorts where it was
    assert list(listed) == [filled["meeting"], new_id]


def test_unknown_id_and_bad_format_are_one_line(filled: dict[str, int]) -> None:
    code, _, err = lib_cli("export", "999", "--format", "srt")
    assert code == 1 and err == "murmur: error: No transcript 999 in the library\n"
    code, _, err = lib_cli("resume", str(filled["standup"]))
    assert code == 1 and err.strip().endswith("is finished; there is nothing to resume")
    with pytest.raises(SystemExit) as caught:
        lib_cli("export", "1", "--format", "pdf")
    assert caught.value.code == 2


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-library")
    return speech.make_track(speech.SENTENCES[:2], (1.4,), folder, name="two").path


def test_transcribe_keeps_the_result_unless_told_not_to(
    wav: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    model = ["--model", tiny_model_dir, "--device", "cpu", "--precision", "fp32"]
    code, err = transcribe(wav, *model, "-f", "json", "-o", tmp_path)
    assert code == 0, err
    with Library.open() as lib:
        (entry,) = lib.entries()
        assert (entry.status, entry.media_path, entry.kind) == ("done", str(wav.resolve()), "file")
        assert entry.settings["model"] == str(tiny_model_dir) and entry.device.startswith("CPU")
        assert entry.chunks_total == 0 or entry.chunks_done == entry.chunks_total
        exported = json.loads((tmp_path / "two.json").read_text(encoding="utf-8"))
        stored = [s.text for s in lib.segments(entry.id)]
        assert stored == [s["text"] for s in exported["segments"]] and stored
        assert f"kept in the library as #{entry.id}" in err
        (window,) = lib.chunks(entry.id)  # the chunk cut is kept with the job: on a CPU,
        assert len(window.pieces) == 2 and window.gap_s > 0  # one window packed from two
    code, err = transcribe(wav, *model, "-f", "srt", "-o", tmp_path, "--no-library")
    assert code == 0, err
    with Library.open() as lib:
        assert lib.count() == 1


def test_transcribe_with_a_read_only_data_folder_warns_once_and_works(
    wav: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    model = ["--model", tiny_model_dir, "--device", "cpu", "--precision", "fp32"]
    model += ["--pack", "off"]  # no notice about packed windows among the warnings
    with read_only_folder(folder):
        code, err = transcribe(wav, *model, "-f", "srt", "-o", tmp_path)
    assert code == 0, err
    assert (tmp_path / "two.srt").read_text(encoding="utf-8").count(" --> ") >= 1
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: The library can't be saved: can't create the data folder {folder}; "
        "transcripts are not kept in the library"
    ] or warnings == [
        f"warning: The library can't be saved: the data folder {folder} is read-only; "
        "transcripts are not kept in the library"
    ]
    assert not os.listdir(folder)
