"""numpy's own BLAS on one thread, for this process.

The audio stages call numpy's matrix products on small arrays (speech detection's
network; the decoder's channel energies and mix, 2 x 65,536 samples at a time), beside
the model, the decoder or other detection workers. numpy's OpenBLAS, threaded, spins
its threads on the other cores: speech detection's front took 15.5 ms per 256 windows
instead of 6.0 ms with the other core busy, and decoding an hour of MP3 used 1.5-2 CPU
seconds more than its single-threaded run (measured on a 2-core machine). So the first
audio stage to run sets numpy's BLAS (and only it, never torch's) to one thread.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_lock = threading.Lock()
_done = False


def one_blas_thread() -> None:
    """Put the BLAS inside numpy's own folders on one thread (once; cheap after)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        _done = True
        try:
            from threadpoolctl import ThreadpoolController

            numpy_dir = Path(np.__file__).resolve().parent
            site = numpy_dir.parent
            for lib in ThreadpoolController().lib_controllers:
                where = Path(lib.filepath).resolve()
                if (
                    lib.user_api == "blas"
                    and where.is_relative_to(site)
                    and (
                        where.relative_to(site).parts[0]
                        in (numpy_dir.name, f"{numpy_dir.name}.libs")
                    )
                ):
                    lib.set_num_threads(1)
        except Exception as exc:  # a missing or unknown library only costs speed
            log.info("could not limit numpy's BLAS threads: %s", exc)
