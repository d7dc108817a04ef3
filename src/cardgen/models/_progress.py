"""The progress bar of the batching engine, with a time-left estimate that holds from the start.

A bar over rows misleads here: batches run longest first within each chunk of rows, and the
first batch also pays for the first chunk's tokenization and the model's warm-up, so a rate of
rows measured from the start said 2:25:15 for a run that took 8.5 minutes. The estimate instead
counts work (padded tokens, which is what a batch costs), leaves out the first batch, and shows
nothing until it has measured for ``WARMUP_SECONDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from tqdm.auto import tqdm

# How long the work rate is measured, after the first batch, before a time left is shown.
WARMUP_SECONDS = 3.0


class WorkEstimate:
    """Seconds left of a run over ``total`` rows, from the work (padded tokens) done per second
    since the first batch ended; None until that has been measured for ``warmup`` seconds."""

    def __init__(
        self,
        total: int,
        *,
        warmup: float = WARMUP_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total, self.warmup, self.clock = total, warmup, clock
        self.rows_chunked = self.chunk_work = self.chunk_done = 0
        self.work_chunked = 0  # the work of every chunk started so far
        self.since: float | None = None  # when the first batch ended
        self.work_since = 0  # work done after the first batch

    def chunk(self, rows: int, work: int) -> None:
        """A chunk of ``rows`` rows starts; its batches will cost ``work`` in all."""
        self.rows_chunked += rows
        self.work_chunked += work
        self.chunk_work, self.chunk_done = work, 0

    def batch(self, work: int) -> None:
        """A batch that cost ``work`` has finished."""
        self.chunk_done += work
        if self.since is None:
            self.since = self.clock()
        else:
            self.work_since += work

    def seconds_left(self) -> float | None:
        if self.since is None or self.work_since <= 0:
            return None
        elapsed = self.clock() - self.since
        if elapsed < self.warmup:
            return None
        rows_left = self.total - self.rows_chunked  # rows in chunks not tokenized yet
        per_row = self.work_chunked / max(self.rows_chunked, 1)
        work_left = max(self.chunk_work - self.chunk_done, 0) + rows_left * per_row
        return work_left * elapsed / self.work_since


class _Bar(tqdm):
    """tqdm with its time left given (``left``) instead of derived from the rate of rows."""

    left = "?"

    @property
    def format_dict(self) -> dict[str, object]:
        return {**super().format_dict, "left": self.left}


class RowProgress:
    """A tqdm bar over rows (``disable``-able) whose time left comes from a WorkEstimate."""

    def __init__(self, total: int, *, desc: str, enabled: bool) -> None:
        self.estimate = WorkEstimate(total)
        self.bar = _Bar(
            total=total,
            unit="ex",
            desc=desc,
            disable=not enabled,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{left}, {rate_fmt}{postfix}]",
        )

    def chunk(self, rows: int, work: int) -> None:
        self.estimate.chunk(rows, work)

    def advance(self, rows: int, work: int) -> None:
        """``rows`` rows that cost ``work`` are done."""
        self.estimate.batch(work)
        left = self.estimate.seconds_left()
        done = self.bar.n + rows >= self.estimate.total
        self.bar.left = "00:00" if done else "?" if left is None else tqdm.format_interval(left)
        self.bar.update(rows)

    def __enter__(self) -> RowProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bar.close()
