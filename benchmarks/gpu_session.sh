#!/usr/bin/env bash
# Issue #14's CUDA figures in one call on a lent GPU machine (benchmarks/README.md,
# "On a GPU"): `run` with carry [".gpu"] and the command `DEADLINE=400 bash
# benchmarks/gpu_session.sh`. benchmarks/gpu_prepare.sh makes .gpu/ here first; it holds
# what that machine lacks:
#   .gpu/whl/       wheels for its Python (av, soundfile, cffi, pycparser, platformdirs)
#   .gpu/site/      silero_vad (its JIT model only)
#   .gpu/speech-60min.mp3   rtf.py's spaced espeak speech, 66.5 min, 16 kHz mono MP3
#   .gpu/listener/clips.npz  held-out listener sentences (cuda_checks.py --make-listener-clips)
# Each step has its own time limit and the whole stays inside DEADLINE seconds; every
# step's output is kept under $OUT. The figures are read from the logs.
set -u
OUT=${OUT:-/tmp/murmur-gpu}
DEADLINE=${DEADLINE:-560}
MEDIA=${MEDIA:-.gpu/speech-60min.mp3}
mkdir -p "$OUT"
began=$(date +%s)

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/whl/*.whl || exit 1
cp -r .gpu/site/. /tmp/site/
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
export MURMUR_DATA_DIR=/tmp/murmur-data MURMUR_CONFIG_DIR=/tmp/murmur-config
export MURMUR_LOG_DIR=/tmp/murmur-log

nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm \
    --format=csv | tee "$OUT/env.log"
python3 -c "import sys, torch, transformers, av, numpy; print(sys.version.split()[0], \
'torch', torch.__version__, 'transformers', transformers.__version__, 'av', av.__version__, \
'numpy', numpy.__version__, 'cpus', __import__('os').cpu_count())" 2>&1 | tee -a "$OUT/env.log"

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2 left
    shift 2
    left=$((DEADLINE - ($(date +%s) - began)))
    if ((left < 30)); then
        echo "=== $name skipped: ${left} s left"
        return
    fi
    ((limit > left)) && limit=$left
    echo "=== $name (limit ${limit} s): $*"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "=== $name rc $? after $(($(date +%s) - began)) s"
    tail -n 25 "$OUT/$name.log"
}

# the app's path on a GPU since 2026-12-01: packed windows, placed by the watched layer
# (--verdict placed: every file after the first with a model that places its words),
# then cutting at pauses (the default before) in the same call
step rtf-packed 80 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off \
    --verdict placed
step rtf-cut 80 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off \
    --pack off
step checks 170 python3 benchmarks/cuda_checks.py --media "$MEDIA" \
    --listener-clips .gpu/listener/clips.npz
step rtf-packed-split 80 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" \
    --verdict placed
step rtf-first 80 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off
step rtf-inline 70 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off \
    --pack off --prefetch off
step checks-deterministic 60 python3 benchmarks/cuda_checks.py --media "$MEDIA" \
    --only graphs --chunks 64 --deterministic
step rtf-cap256 70 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off \
    --verdict placed --max-batch 256
step rtf-again 70 python3 benchmarks/rtf.py --device cuda --media "$MEDIA" --split off \
    --verdict placed
echo "=== done after $(($(date +%s) - began)) s"
grep -H -E "^RTF|^speed|^chunks|^first segment|^batches whose|^peak GPU|^PASS|^FAIL" "$OUT"/*.log
