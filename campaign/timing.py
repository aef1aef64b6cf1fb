"""Wall seconds and peak memory per stage of a long step (intake, the master list build), for the runs'
artifacts and the benchmarks."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator


class Stopwatch:
    """Wall seconds per intake stage (read, standardize, gate, load, feedback...), for the run's artifact
    and the benchmarks: where the time of a slow upload went."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}   # the process's peak resident memory when the stage ended

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        from campaign.progress import report

        report(name)   # the command line's progress bar, when one listens
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
