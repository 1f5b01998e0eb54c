"""Output names for a run: distinct within the run, nothing overwritten unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.export.naming import existing_outputs, plan_outputs


def names(plans: list) -> list[list[str]]:
    return [[p.name for p in plan.paths.values()] for plan in plans]


def test_plain_names_when_free(tmp_path: Path) -> None:
    plans = plan_outputs([tmp_path / "a.mp3", tmp_path / "b.wav"], ["srt", "txt"])
    assert names(plans) == [["a.srt", "a.txt"], ["b.srt", "b.txt"]]
    assert not any(p.renamed for p in plans)
    assert all(p.paths["srt"].parent == tmp_path for p in plans)  # next to the input


def test_shared_stem_in_one_run_is_numbered_in_input_order(tmp_path: Path) -> None:
    inputs = [tmp_path / "a" / "talk.flac", tmp_path / "b" / "talk.flac", tmp_path / "talk.m4a"]
    out = tmp_path / "out"
    plans = plan_outputs(inputs, ["srt", "txt"], out)
    assert names(plans) == [
        ["talk.srt", "talk.txt"],
        ["talk (2).srt", "talk (2).txt"],
        ["talk (3).srt", "talk (3).txt"],
    ]
    assert [p.renamed for p in plans] == [False, True, True]
    assert "another input of this run" in plans[1].note()
    assert "talk (2).srt" in plans[1].note() and "b" not in plans[0].note()
    every = [p for plan in plans for p in plan.paths.values()]
    assert len(set(every)) == len(every)


def test_next_to_inputs_in_one_folder(tmp_path: Path) -> None:
    """talk.mp3 and talk.wav side by side: two transcripts, not one."""
    plans = plan_outputs([tmp_path / "talk.mp3", tmp_path / "talk.wav"], ["txt"])
    assert names(plans) == [["talk.txt"], ["talk (2).txt"]]


def test_case_differences_count_as_the_same_name(tmp_path: Path) -> None:
    plans = plan_outputs([tmp_path / "Talk.mp3", tmp_path / "talk.wav"], ["txt"], tmp_path)
    assert names(plans) == [["Talk.txt"], ["talk (2).txt"]]


def test_existing_files_are_kept_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "talk.txt").write_text("old", encoding="utf-8")
    (tmp_path / "talk (2).srt").write_text("old", encoding="utf-8")
    inputs = [tmp_path / "in" / "talk.wav", tmp_path / "in2" / "talk.wav"]
    kept = plan_outputs(inputs, ["srt", "txt"], tmp_path)
    # one number for all formats of an input: (2) is half taken, so (3), then (4)
    assert names(kept) == [["talk (3).srt", "talk (3).txt"], ["talk (4).srt", "talk (4).txt"]]
    assert "exists already" in kept[0].note()
    assert not any(plan.replaces for plan in kept)

    replaced = plan_outputs(inputs, ["srt", "txt"], tmp_path, overwrite=True)
    assert names(replaced) == [["talk.srt", "talk.txt"], ["talk (2).srt", "talk (2).txt"]]
    assert replaced[0].replaces == (tmp_path / "talk.txt",)
    assert replaced[1].replaces == (tmp_path / "talk (2).srt",)
    assert existing_outputs(inputs, ["srt", "txt"], tmp_path) == [
        tmp_path / "talk.txt",
        tmp_path / "talk (2).srt",
    ]


def test_an_output_never_lands_on_an_input(tmp_path: Path) -> None:
    plans = plan_outputs([tmp_path / "talk.wav", tmp_path / "talk.txt"], ["txt"])
    assert names(plans) == [["talk (2).txt"], ["talk (3).txt"]]


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_plan_is_the_same_every_time(tmp_path: Path, overwrite: bool) -> None:
    inputs = [tmp_path / f"{d}/talk.wav" for d in "abc"]
    first = plan_outputs(inputs, ["srt"], tmp_path / "out", overwrite=overwrite)
    again = plan_outputs(inputs, ["srt"], tmp_path / "out", overwrite=overwrite)
    assert names(first) == names(again) == [["talk.srt"], ["talk (2).srt"], ["talk (3).srt"]]
