"""The settings dialog, stored through the core's typed Settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.audio.capture import CaptureError, InputDevice, list_input_devices
from app.core.settings import (
    CHANNEL_CHOICES,
    DEVICES,
    DICTATION_ENDINGS,
    DICTATION_MODES,
    DICTATION_OUTPUTS,
    EXPORT_FORMATS,
    PACKING_CHOICES,
    PRECISIONS,
    SPEAKER_CHOICES,
    Settings,
)
from app.core.transcript.chinese import CHINESE_SCRIPT_NAMES, CHINESE_SCRIPTS
from app.gui.theme import DANGER, icon

_DEVICE_LABELS = {
    "auto": "Automatic (best available)",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (MPS)",
    "cpu": "CPU",
}
_CHANNEL_LABELS = {
    "auto": "Mix, or the stronger channel when they cancel out",
    "mix": "Always mix the channels",
    "left": "Left channel only",
    "right": "Right channel only",
}
_PACKING_LABELS = {
    "auto": "Automatic: unless the model can't say where its words were",
    "on": "Always",
    "off": "Never: cut at every long pause",
}
_MODE_LABELS = {"toggle": "Press to start, press again to stop", "hold": "Hold while speaking"}
_OUTPUT_LABELS = {
    "paste": "Paste (the clipboard is restored)",
    "type": "Type it (for fields that block pasting)",
    "copy": "Copy to the clipboard only",
}
_ENDING_LABELS = {"none": "Nothing", "space": "A space", "newline": "A new line"}


def input_device_combo(
    current: str, list_devices: Callable[[], list[InputDevice]] | None = None
) -> QComboBox:
    """ "System default" plus each input device; a saved device that has gone stays
    listed as "(not connected)" instead of being silently replaced."""
    box = QComboBox()
    box.setAccessibleName("Microphone")
    box.addItem("System default", "")
    try:
        devices = (list_devices or list_input_devices)()
    except CaptureError:
        devices = []
    for device in devices:
        box.addItem(device.label(), device.name)
    if current and box.findData(current) < 0:
        box.addItem(f"{current} (not connected)", current)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


def _combo(name: str, keys: tuple[str, ...], labels: dict[str, str], value: str) -> QComboBox:
    box = QComboBox()
    box.setAccessibleName(name)
    for key in keys:
        box.addItem(labels.get(key, key), key)
    box.setCurrentIndex(max(0, box.findData(value)))
    return box


_SPEAKER_LABELS = {"off": "No speakers", "auto": "Speakers: auto (find how many)"}


def speakers_combo(value: str, compact: bool = False) -> QComboBox:
    """Detect speakers: off, auto or 2-10 (here, and, ``compact``, on each file's card:
    "Off", "Auto", "2"... after an icon of two people)."""
    if compact:
        labels = {"off": "Off", "auto": "Auto"}
    else:
        labels = {k: _SPEAKER_LABELS.get(k, f"{k} speakers") for k in SPEAKER_CHOICES}
    box = _combo("Detect speakers", SPEAKER_CHOICES, labels, value)
    box.setToolTip("Detect speakers: off, auto (find how many) or the number of speakers")
    if compact:
        for row in range(box.count()):
            box.setItemIcon(row, icon("speakers"))
    return box


_PRECISION_LABELS = {
    "auto": "Automatic",
    "bf16": "bfloat16",
    "fp16": "float16",
    "fp32": "float32",
    "int8": "int8 (fast CPU)",
}


PRECISION_HELP = (
    "Automatic: bfloat16 on a GPU that has it (else float16) and on a CPU: about 4.3 GB "
    "for GLM-ASR-Nano. A CPU without bfloat16 instructions computes in float32 from the "
    "bfloat16 weights. float32 needs twice the memory. "
    "int8 (CPU only) is smaller, and its words may differ."
)


PACK_WINDOWS_HELP = (
    "The model pays for a whole 30 s window however little speech is in it. Packing lays "
    "the speech between long pauses end to end, filling windows to three quarters: on a "
    "CPU, 5 minutes of speech with pauses took about a third of the time. Each piece's "
    "words are found where the model listened while writing them; where that is unclear, "
    "the pieces are transcribed one by one. Cue starts are a little less exact.\n\n"
    "Automatic packs on a CPU and on a GPU (an hour of speech with pauses takes about a "
    "quarter of the windows). A model that does not show where its words were is "
    "remembered, and then Murmur cuts at pauses with it."
)


def _spin(low: int, high: int, value: int, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    return box


def _dspin(low: float, high: float, value: float, suffix: str = " s") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(1)
    box.setSingleStep(0.1)
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    return box


def _cps_spin(high: float, value: float) -> QDoubleSpinBox:
    box = _dspin(0.0, high, value, " characters/s")
    box.setSingleStep(1.0)
    box.setSpecialValueText("No limit")  # shown for 0
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` after ``Accepted``."""

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        list_devices: Callable[[], list[InputDevice]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self._original = settings
        self._result: Settings | None = None

        # -- model -----------------------------------------------------------
        self.model_edit = QLineEdit(settings.model)
        self.model_edit.setAccessibleName("Model")
        self.model_edit.setPlaceholderText("Hugging Face id or local folder")
        self.model_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\S.*")))
        self.model_edit.setToolTip("A Hugging Face model id, e.g. zai-org/GLM-ASR-Nano-2512")
        choose_model = QPushButton("Choose folder…")
        choose_model.setAccessibleName("Choose model folder")
        choose_model.clicked.connect(self._choose_model_folder)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(choose_model)

        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Device")
        for key in DEVICES:
            self.device_combo.addItem(_DEVICE_LABELS.get(key, key), key)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(settings.device)))
        self.precision_combo = QComboBox()
        self.precision_combo.setAccessibleName("Precision")
        for key in PRECISIONS:
            self.precision_combo.addItem(_PRECISION_LABELS.get(key, key), key)
        self.precision_combo.setCurrentIndex(
            max(0, self.precision_combo.findData(settings.precision))
        )
        self.precision_combo.setToolTip(PRECISION_HELP)
        model_box = QGroupBox("Model")
        form = QFormLayout(model_box)
        form.addRow("Model:", model_row)
        form.addRow("Device:", self.device_combo)
        form.addRow("Precision:", self.precision_combo)

        # -- transcription -----------------------------------------------------
        self.context_edit = QLineEdit(settings.context)
        self.context_edit.setAccessibleName("Context")
        self.context_edit.setPlaceholderText("What the recording is about (optional)")
        self.hotwords_edit = QLineEdit(", ".join(settings.hotwords))
        self.hotwords_edit.setAccessibleName("Hot words")
        self.hotwords_edit.setPlaceholderText("Names and terms, separated by commas")
        self.max_pause = _dspin(0.1, 10.0, settings.max_pause_s)
        self.max_pause.setAccessibleName("Longest pause inside a chunk")
        self.channel_combo = _combo("Channels", CHANNEL_CHOICES, _CHANNEL_LABELS, settings.channel)
        self.packing_combo = _combo(
            "Pack speech across long pauses", PACKING_CHOICES, _PACKING_LABELS, settings.packing
        )
        self.packing_combo.setToolTip(PACK_WINDOWS_HELP)
        trans_box = QGroupBox("Transcription")
        form = QFormLayout(trans_box)
        form.addRow("Context:", self.context_edit)
        form.addRow("Hot words:", self.hotwords_edit)
        form.addRow("Longest pause kept together:", self.max_pause)
        form.addRow("Pack across long pauses:", self.packing_combo)
        form.addRow("Channels:", self.channel_combo)
        self.speakers_combo = speakers_combo(settings.speakers)
        form.addRow("Detect speakers:", self.speakers_combo)

        # -- subtitles -----------------------------------------------------------
        self.max_chars_latin = _spin(10, 120, settings.max_chars_latin)
        self.max_chars_latin.setAccessibleName("Characters per line, Latin")
        self.max_chars_cjk = _spin(4, 60, settings.max_chars_cjk)
        self.max_chars_cjk.setAccessibleName("Characters per line, CJK")
        self.max_lines = _spin(1, 4, settings.max_lines)
        self.max_lines.setAccessibleName("Lines per cue")
        self.min_duration = _dspin(0.2, 10.0, settings.min_duration_s)
        self.min_duration.setAccessibleName("Shortest cue")
        self.max_duration = _dspin(1.0, 30.0, settings.max_duration_s)
        self.max_duration.setAccessibleName("Longest cue")
        self.max_cps_latin = _cps_spin(40.0, settings.max_cps_latin)
        self.max_cps_latin.setAccessibleName("Reading speed, Latin")
        self.max_cps_cjk = _cps_spin(30.0, settings.max_cps_cjk)
        self.max_cps_cjk.setAccessibleName("Reading speed, CJK")
        self.min_gap = _dspin(0.0, 1.0, settings.min_gap_s)
        self.min_gap.setDecimals(3)  # set after the range: the value was rounded to 0.1
        self.min_gap.setSingleStep(0.01)
        self.min_gap.setValue(settings.min_gap_s)
        self.min_gap.setAccessibleName("Least gap between cues")
        self.min_gap.setToolTip("Subtitle checks mark cues closer than this; fixes open such gaps")
        self.chinese_combo = _combo(
            "Chinese characters", CHINESE_SCRIPTS, CHINESE_SCRIPT_NAMES, settings.chinese_script
        )
        subs_box = QGroupBox("Subtitles")
        form = QFormLayout(subs_box)
        form.addRow("Characters per line (Latin):", self.max_chars_latin)
        form.addRow("Characters per line (CJK):", self.max_chars_cjk)
        form.addRow("Lines per cue:", self.max_lines)
        form.addRow("Shortest cue:", self.min_duration)
        form.addRow("Longest cue:", self.max_duration)
        form.addRow("Reading speed (Latin):", self.max_cps_latin)
        form.addRow("Reading speed (CJK):", self.max_cps_cjk)
        form.addRow("Least gap between cues:", self.min_gap)
        form.addRow("Chinese characters:", self.chinese_combo)

        # -- export --------------------------------------------------------------
        self.format_checks: dict[str, QCheckBox] = {}
        formats_row = QHBoxLayout()
        for fmt in EXPORT_FORMATS:
            check = QCheckBox(fmt.upper())
            check.setAccessibleName(f"Export {fmt.upper()} by default")
            check.setChecked(fmt in settings.export_formats)
            self.format_checks[fmt] = check
            formats_row.addWidget(check)
        formats_row.addStretch(1)
        self.export_dir_edit = QLineEdit(settings.export_dir)
        self.export_dir_edit.setAccessibleName("Export folder")
        self.export_dir_edit.setPlaceholderText("Next to each input file")
        choose_dir = QPushButton("Browse…")
        choose_dir.setAccessibleName("Choose export folder")
        choose_dir.clicked.connect(self._choose_export_dir)
        dir_row = QHBoxLayout()
        dir_row.addWidget(self.export_dir_edit, 1)
        dir_row.addWidget(choose_dir)
        self.txt_timestamps = QCheckBox("Timestamps in TXT and DOCX")
        self.txt_timestamps.setChecked(settings.txt_timestamps)
        export_box = QGroupBox("Export")
        form = QFormLayout(export_box)
        form.addRow("Default formats:", formats_row)
        form.addRow("Folder:", dir_row)
        form.addRow("", self.txt_timestamps)
        self.export_speakers = QCheckBox("Speaker names in exports")
        self.export_speakers.setChecked(settings.export_speakers)
        form.addRow("", self.export_speakers)

        # -- microphone and dictation into other applications ----------------------
        from app.gui.dictation.hotkey import availability

        self.input_device = input_device_combo(settings.input_device, list_devices)

        self.dictation_enabled = QCheckBox("Dictate into other applications with a shortcut")
        self.dictation_enabled.setAccessibleName("Dictation shortcut enabled")
        self.dictation_enabled.setChecked(settings.dictation_enabled)
        self.dictation_shortcut = QLineEdit(settings.dictation_shortcut)
        self.dictation_shortcut.setAccessibleName("Dictation shortcut")
        self.dictation_shortcut.setToolTip("Modifiers and one key, e.g. <ctrl>+<alt>+d or <f9>")
        self.dictation_mode = _combo(
            "Dictation mode", DICTATION_MODES, _MODE_LABELS, settings.dictation_mode
        )
        self.dictation_output = _combo(
            "Dictation output", DICTATION_OUTPUTS, _OUTPUT_LABELS, settings.dictation_output
        )
        self.dictation_ending = _combo(
            "After each dictation", DICTATION_ENDINGS, _ENDING_LABELS, settings.dictation_ending
        )
        shortcuts_ok, why = availability()
        self.shortcut_note = QLabel(why)
        self.shortcut_note.setObjectName("muted")
        self.shortcut_note.setWordWrap(True)
        self.shortcut_note.setAccessibleName("Shortcut availability")
        self.shortcut_note.setVisible(not shortcuts_ok)
        dictation_box = QGroupBox("Dictation")
        form = QFormLayout(dictation_box)
        form.addRow("Microphone:", self.input_device)
        form.addRow("", self.dictation_enabled)
        form.addRow("Shortcut:", self.dictation_shortcut)
        form.addRow("", self.shortcut_note)
        form.addRow("Mode:", self.dictation_mode)
        form.addRow("Output:", self.dictation_output)
        form.addRow("Then add:", self.dictation_ending)

        # -- bottom ----------------------------------------------------------------
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {DANGER};")
        self.error_label.setAccessibleName("Settings error")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        defaults = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        defaults.clicked.connect(self._restore_defaults)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(model_box)
        left.addWidget(trans_box)
        left.addWidget(export_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(subs_box)
        right.addWidget(dictation_box)
        right.addStretch(1)
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 14)
        layout.setSpacing(12)
        layout.addLayout(columns)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    # -- helpers -------------------------------------------------------------------
    def _choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.model_edit.setText(folder)

    def _choose_export_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the export folder")
        if folder:
            self.export_dir_edit.setText(folder)

    def _restore_defaults(self) -> None:
        d = Settings()
        self.model_edit.setText(d.model)
        self.device_combo.setCurrentIndex(self.device_combo.findData(d.device))
        self.precision_combo.setCurrentIndex(self.precision_combo.findData(d.precision))
        self.context_edit.setText(d.context)
        self.hotwords_edit.setText(", ".join(d.hotwords))
        self.max_pause.setValue(d.max_pause_s)
        self.packing_combo.setCurrentIndex(self.packing_combo.findData(d.packing))
        self.channel_combo.setCurrentIndex(self.channel_combo.findData(d.channel))
        self.speakers_combo.setCurrentIndex(self.speakers_combo.findData(d.speakers))
        self.export_speakers.setChecked(d.export_speakers)
        self.max_chars_latin.setValue(d.max_chars_latin)
        self.max_chars_cjk.setValue(d.max_chars_cjk)
        self.max_lines.setValue(d.max_lines)
        self.min_duration.setValue(d.min_duration_s)
        self.max_duration.setValue(d.max_duration_s)
        self.max_cps_latin.setValue(d.max_cps_latin)
        self.max_cps_cjk.setValue(d.max_cps_cjk)
        self.min_gap.setValue(d.min_gap_s)
        self.chinese_combo.setCurrentIndex(self.chinese_combo.findData(d.chinese_script))
        for fmt, check in self.format_checks.items():
            check.setChecked(fmt in d.export_formats)
        self.export_dir_edit.setText(d.export_dir)
        self.txt_timestamps.setChecked(d.txt_timestamps)
        self.dictation_enabled.setChecked(d.dictation_enabled)
        self.input_device.setCurrentIndex(0)
        self.dictation_shortcut.setText(d.dictation_shortcut)
        for box, value in (
            (self.dictation_mode, d.dictation_mode),
            (self.dictation_output, d.dictation_output),
            (self.dictation_ending, d.dictation_ending),
        ):
            box.setCurrentIndex(box.findData(value))

    def current_settings(self) -> Settings:
        """The settings as the dialog shows them now (not validated)."""
        hotwords = [w.strip() for w in self.hotwords_edit.text().split(",") if w.strip()]
        return replace(
            self._original,
            model=self.model_edit.text().strip(),
            device=str(self.device_combo.currentData()),
            precision=str(self.precision_combo.currentData()),
            context=self.context_edit.text().strip(),
            hotwords=hotwords,
            max_pause_s=round(self.max_pause.value(), 2),
            packing=str(self.packing_combo.currentData()),
            channel=str(self.channel_combo.currentData()),
            speakers=str(self.speakers_combo.currentData()),
            export_speakers=self.export_speakers.isChecked(),
            max_chars_latin=self.max_chars_latin.value(),
            max_chars_cjk=self.max_chars_cjk.value(),
            max_lines=self.max_lines.value(),
            min_duration_s=round(self.min_duration.value(), 2),
            max_duration_s=round(self.max_duration.value(), 2),
            max_cps_latin=round(self.max_cps_latin.value(), 1),
            max_cps_cjk=round(self.max_cps_cjk.value(), 1),
            min_gap_s=round(self.min_gap.value(), 3),
            chinese_script=str(self.chinese_combo.currentData()),
            export_formats=[f for f, c in self.format_checks.items() if c.isChecked()],
            export_dir=self.export_dir_edit.text().strip(),
            txt_timestamps=self.txt_timestamps.isChecked(),
            input_device=str(self.input_device.currentData() or ""),
            dictation_enabled=self.dictation_enabled.isChecked(),
            dictation_shortcut=self.dictation_shortcut.text().strip(),
            dictation_mode=str(self.dictation_mode.currentData()),
            dictation_output=str(self.dictation_output.currentData()),
            dictation_ending=str(self.dictation_ending.currentData()),
        )

    def errors(self) -> list[str]:
        settings = self.current_settings()
        errors = settings.validate()
        if not settings.export_formats:
            errors.append("Default formats: choose at least one.")
        return errors

    def accept(self) -> None:
        errors = self.errors()
        if errors:
            self.error_label.setText("\n".join(errors))
            self.error_label.show()
            return
        self._result = self.current_settings()
        super().accept()

    def result_settings(self) -> Settings | None:
        return self._result
