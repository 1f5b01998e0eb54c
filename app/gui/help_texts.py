"""About and help texts shown by the main window."""

from __future__ import annotations

import platform

from app import APP_NAME, __version__

EMPTY_HINT = (
    "Drop audio or video files on the left, or press Ctrl+O.\n"
    "Select a file in the queue to see and edit its transcript."
)

HELP_HTML = f"""
<h3>Using {APP_NAME}</h3>
<ol>
<li><b>Add files</b>: drop audio or video files (or whole folders) on the drop zone,
or use <i>File → Add files…</i> (Ctrl+O). Each file is transcribed in turn,
on this computer; nothing is uploaded.</li>
<li><b>Record</b>: choose the microphone under the drop zone and press <i>Record</i>
(Ctrl+Shift+R); press <i>Stop</i> and the recording is transcribed like a dropped file.
<i>Record → Dictate in the window</i> (Ctrl+Shift+D) shows the text growing after each
pause while you speak.</li>
<li><b>Dictate anywhere</b>: turn it on in <i>Settings → Dictation</i>, then press the
shortcut (Ctrl+Alt+D by default) in any application. The words go where the cursor is;
<i>Record → Recent dictations</i> keeps them. Under Wayland, bind
<code>murmur dictate --toggle</code> to a key in your desktop's settings.</li>
<li><b>Follow the queue</b>: every file shows its state, progress and time left.
Cancel, retry or remove a file with the buttons on its row. A video with several
audio tracks gets a track picker on its row, set to the default track: choose
another before it starts, or afterwards and press Retry.</li>
<li><b>Who spoke</b>: the <i>Detect speakers</i> picker on a file's row labels the
speakers (<i>auto</i> finds how many, or give the number; the default is in Settings).
The transcript then has a Speaker column with a colour per speaker. Rename a speaker
everywhere, give the selected segments another speaker (Shift or Ctrl to select
several; also on the right-click menu), or merge two speakers: each is one undo step.
Exports begin each speaker's turn with the name (off in Settings).</li>
<li><b>Edit</b>: select a finished file to see its transcript. Edit the text and
times, split, merge, insert or delete segments; Ctrl+Z undoes, Ctrl+Shift+Z redoes.
Ctrl+F finds and Ctrl+H replaces. Play the media to check a passage.</li>
<li><b>Subtitles</b>: cues over the limits of <i>Settings → Subtitles</i> are marked;
hover for the reason, F8 and Shift+F8 go to the next and previous. [ and ] set the
selected cue's start and end to the playhead. The <i>Subtitles</i> menu shifts, stretches
and spaces cues and fixes common problems after a preview, each as one undoable edit.
<i>File → Import subtitles…</i> opens an SRT or VTT beside its media.</li>
<li><b>Export</b>: SRT and VTT subtitles, plain text, Word (DOCX) or JSON, from the
buttons above the transcript or <i>File → Export</i>. <i>Export all finished</i>
writes every finished file in your default formats, as <i>name.srt</i>; files that
would share a name are numbered (<i>name (2).srt</i>), and when a file exists already
you choose: keep both (a new number) or replace it.</li>
</ol>
<p>Subtitle line length, lines per cue and cue durations, the model, the device,
the channels (mix, left or right) and the default export folder are in
<i>File → Settings…</i> (Ctrl+,). Stereo whose channels cancel each other out
(one phase-inverted) is noticed: the stronger channel is used, and the queue says so.</p>
<p>The status bar shows where the model runs. When a GPU is not used it says why.</p>
"""


def about_html() -> str:
    return (
        f"<h3>{APP_NAME} {__version__}</h3>"
        "<p>Local speech-to-text and subtitles with the GLM-ASR model.</p>"
        "<p>Your recordings stay on this computer.</p>"
        f"<p style='color: gray'>Python {platform.python_version()} · "
        f"{platform.system()} {platform.machine()}</p>"
        "<p>Licensed under the Apache License 2.0.</p>"
    )
