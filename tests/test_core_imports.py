"""app.core must import, and work, with PySide6 absent; and cheaply (no torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT = """
import sys, pkgutil, importlib
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6"):
            raise ImportError("PySide6 is blocked in this test")
sys.meta_path.insert(0, Block())
import app.core, app.cli
mods = [m.name for top in (app.core, app.cli)
        for m in pkgutil.walk_packages(top.__path__, top.__name__ + ".")]
for name in mods:
    importlib.import_module(name)
heavy = sorted(m for m in ("torch", "transformers", "PySide6", "av", "silero_vad",
                           "rjieba", "opencc") if m in sys.modules)
print(len(mods), ",".join(heavy))
"""


def test_core_imports_without_pyside6_and_without_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BLOCK_QT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    count, heavy = (
        out.stdout.strip().split(" ") if " " in out.stdout.strip() else (out.stdout.strip(), "")
    )
    assert int(count) >= 8, "expected the core modules to be found"
    assert heavy == "", f"importing app.core pulled in {heavy}: import these lazily"
