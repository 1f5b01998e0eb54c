"""Print one field of pyproject.toml's [project] table for the packaging scripts.

    python packaging/project_meta.py version      -> 0.1.0
    python packaging/project_meta.py maintainer   -> Murmur developers <murmur@murmur.org>

The maintainer is the first of ``maintainers`` (else of ``authors``) that has a name and
an e-mail address, as Debian's Maintainer field wants them; make_deb.sh reads both, so
the package says what pyproject.toml says.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def field(name: str, pyproject: Path = PYPROJECT) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    if name == "version":
        return str(project["version"])
    if name == "maintainer":
        for person in [*project.get("maintainers", []), *project.get("authors", [])]:
            if person.get("name") and person.get("email"):
                return f"{person['name']} <{person['email']}>"
        raise SystemExit(f"{pyproject}: no maintainer or author with a name and an email")
    raise SystemExit(f"project_meta: unknown field {name!r} (version, maintainer)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: project_meta.py version|maintainer")
    print(field(sys.argv[1]))
