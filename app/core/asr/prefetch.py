"""The next batch's model inputs, built on a helper thread while the GPU decodes this one.

On a GPU the processor's work is the CPU's: each chunk padded to its window, its log-mel
features, the prompt tokenized. On an H200 that was 3.8 s of the 16.7 s an hour of
speech took (678 chunks, benchmarks/README.md, "On a GPU"), all of it while the GPU
waited: the engine built a batch's inputs, then decoded it, then built the next. Here
the next batch's inputs are built on one helper thread while the model's thread waits
on the GPU (CUDA calls release the interpreter lock), so that the GPU's next batch finds
them ready.

Not on a CPU, where the model's threads already use every core: there the same work on
another thread would only take cores from the model.

The helper has its own deep copy of the processor: a fast tokenizer set up for padding
on one thread while another decodes tokens with it fails ("Already borrowed"). The
copy is made once per processor, after the engine has configured its padding.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class InputPrefetch:
    """One helper thread and one processor copy, shared by the engines of one model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._source: Any = None  # the processor the copy was made from
        self._copy: Any = None
        self.built = 0  # batches whose inputs the helper built (for tests and benchmarks)

    def submit(self, processor: Any, build: Callable[[Any], Any]) -> Future[Any]:
        """``build(copy)`` on the helper thread, ``copy`` being this helper's copy of
        ``processor``. The future holds the result, or the exception it raised."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="murmur-inputs")
            pool = self._pool

        def run() -> Any:
            out = build(self._copy_of(processor))
            with self._lock:
                self.built += 1
            return out

        return pool.submit(run)

    def _copy_of(self, processor: Any) -> Any:
        # Only the helper thread calls this, so the copy is made there, not on the
        # model's thread (a deep copy of a tokenizer takes a moment). Under the lock, so
        # that close() never races a copy being made.
        with self._lock:
            if self._source is not processor:
                self._copy = copy.deepcopy(processor)
                self._source = processor
            return self._copy

    def close(self) -> None:
        """Let go of the thread and the copy (a later submit starts them again)."""
        with self._lock:
            pool, self._pool = self._pool, None
            self._source = self._copy = None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
