"""The Debian packages a one-folder bundle needs from the system: the `Depends` of its .deb.

    python packaging/deb_depends.py dist/Murmur

Every ELF file in the bundle is run through ldd with the bundle's own library folders
first on the search path, as the frozen app loads them. A library found inside the bundle
needs nothing; one found on the system is mapped to its Debian package with `dpkg -S`; one
found nowhere is an error (the bundle would not start on a machine like this one). The C
library gets the lowest version that the bundle's GLIBC_ symbol versions allow. Prints one
line, e.g. ``libc6 (>= 2.34), libegl1, libgl1, ...``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ELF = b"\x7fELF"


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as f:
            if f.read(4) == ELF:
                found.append(path)
    return found


def system_libraries(bundle: Path, files: list[Path]) -> tuple[set[str], set[str]]:
    """(paths of the system libraries the files load, names that resolve nowhere)."""
    folders = sorted({str(p.parent.resolve()) for p in files})
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(folders)}
    inside = str(bundle.resolve())
    system: set[str] = set()
    missing: set[str] = set()
    for start in range(0, len(files), 100):
        batch = [str(p) for p in files[start : start + 100]]
        out = subprocess.run(["ldd", *batch], env=env, capture_output=True, text=True).stdout
        for line in out.splitlines():
            match = re.match(r"\s+(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", line)
            if not match:
                continue
            name, where = match.groups()
            if where == "not found":
                missing.add(name)
            elif not os.path.realpath(where).startswith(inside + os.sep):
                system.add(where)
    return system, missing


def owning_package(path: str) -> str:
    """The Debian package that ships ``path`` (merged /usr: tried with and without /usr)."""
    candidates = [path, os.path.realpath(path)]
    candidates += ["/usr" + c for c in candidates if not c.startswith("/usr/")]
    candidates += [c.removeprefix("/usr") for c in candidates if c.startswith("/usr/")]
    for candidate in candidates:
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            package = out.stdout.split(":", 1)[0].split(",")[0].strip()
            return package
    raise SystemExit(f"deb_depends: no Debian package ships {path}")


def glibc_floor(files: list[Path]) -> str | None:
    """The highest GLIBC_x.y symbol version any file needs."""
    best: tuple[int, ...] = ()
    for start in range(0, len(files), 100):
        batch = [str(p) for p in files[start : start + 100]]
        out = subprocess.run(
            ["readelf", "--version-info", "--wide", *batch], capture_output=True, text=True
        ).stdout
        for match in re.finditer(r"Name: GLIBC_([0-9.]+)", out):
            version = tuple(int(x) for x in match.group(1).split("."))
            best = max(best, version)
    return ".".join(map(str, best)) or None


def depends(bundle: Path) -> str:
    files = elf_files(bundle)
    system, missing = system_libraries(bundle, files)
    if missing:
        raise SystemExit(
            "deb_depends: the bundle needs libraries found neither in it nor on this system: "
            + ", ".join(sorted(missing))
        )
    packages = {owning_package(path) for path in system}
    floor = glibc_floor(files)
    items = []
    for package in sorted(packages):
        if package == "libc6" and floor:
            items.append(f"libc6 (>= {floor})")
        else:
            items.append(package)
    return ", ".join(items)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(depends(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
