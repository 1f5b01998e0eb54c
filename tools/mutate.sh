#!/usr/bin/env bash
# Mutation testing (mutmut) of ONE module with the tests that cover it. Not part of CI.
#
#   tools/mutate.sh app/core/atomic.py tests/test_atomic.py
#   tools/mutate.sh app/core/audio/chunking.py tests/test_chunking.py tests/test_pipeline.py
#
# Works in a scratch copy of the working tree (MUTATE_DIR, default /tmp/murmur-mutate/NAME),
# so the tree itself is never touched; [tool.mutmut] of pyproject.toml is narrowed there to
# this module and these tests. Prints the surviving mutants and the score (killed / total,
# where "total" excludes mutants that no selected test reaches, listed as "no tests").
# Then `cd $MUTATE_DIR/NAME && mutmut show NAME` shows one mutant's diff.
# Needs `pip install -e .[dev]` (mutmut). Runs as many children as MUTATE_JOBS (default 2).
# MUTANTS="app.cli.transcribe.x_run__mutmut_* ..." runs only the mutants matching those globs
# (the score line then still counts the whole module: read the survivors list).
# Time limits: mutmut stops a mutant's tests after (T + C) * M seconds of wall time and
# 2 (T + C) M of CPU time (SIGXCPU, reported as "timeout"), T = the clean run's time of
# the tests that reach it, not counting module fixtures made for an earlier test.
# C = MUTATE_TIMEOUT_CONSTANT (default 20) and M = MUTATE_TIMEOUT_MULTIPLIER (default 4)
# leave room for fixtures, a busy machine and torch's threads (limited to one here), so
# that a timeout means a hang; check them anyway (mutmut show, or run the test by hand).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
module=$1
shift
name=$(basename "$module" .py)
work=${MUTATE_DIR:-${TMPDIR:-/tmp}/murmur-mutate}/$name
python=${PYTHON:-$root/.venv/bin/python}

rm -rf "$work"
mkdir -p "$work"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -cf - -T -) \
    | tar -xf - -C "$work"

"$python" - "$work/pyproject.toml" "$module" "$@" <<'PY'
import os
import re
import sys

path, module, *tests = sys.argv[1:]
text = open(path, encoding="utf-8").read()
text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
quoted = ", ".join(f'"{t}"' for t in tests)
text += (
    "\n[tool.mutmut]\n"
    'source_paths = ["app"]\n'
    f'only_mutate = ["{module}"]\n'
    f"pytest_add_cli_args_test_selection = [{quoted}]\n"
    'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x"]\n'
    f"timeout_multiplier = {float(os.environ.get('MUTATE_TIMEOUT_MULTIPLIER', '4'))}\n"
    f"timeout_constant = {float(os.environ.get('MUTATE_TIMEOUT_CONSTANT', '20'))}\n"
)
open(path, "w", encoding="utf-8").write(text)
PY

cd "$work"
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# One thread per mutant for torch and BLAS: the CPU limit then stays a limit on hangs.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# shellcheck disable=SC2086  # MUTANTS is a list of globs, quoted by the caller
"$python" -m mutmut run --max-children "${MUTATE_JOBS:-2}" ${MUTANTS:-} >"$work/run.log" 2>&1 || {
    tail -n 30 "$work/run.log"
    exit 1
}
"$python" -m mutmut results >"$work/results.txt" 2>&1 || true
"$python" -m mutmut export-cicd-stats >/dev/null 2>&1 || true
echo "== $module: surviving mutants (mutmut show NAME in $work)"
grep -E ": (survived|timeout|suspicious)" "$work/results.txt" || echo "none"
"$python" - "$work/mutants/mutmut-cicd-stats.json" "$module" <<'PY'
import json
import sys

stats = json.load(open(sys.argv[1], encoding="utf-8"))
killed = stats["killed"]
reached = stats["total"] - stats.get("no_tests", 0) - stats.get("skipped", 0)
print(f"== {sys.argv[2]}: {json.dumps(stats)}")
print(f"== score {killed}/{reached} = {killed / max(1, reached):.1%} of the mutants the tests reach")
if stats.get("timeout"):
    print(f"== {stats['timeout']} timeouts are not counted as killed: check them by hand")
PY
