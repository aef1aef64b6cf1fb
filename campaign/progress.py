"""How far a long step has got, for whoever listens (the command line's progress bar on a terminal): the
core says which stage it is in and, where it can count, how much of it is done. It never draws anything
itself and costs nothing when nobody listens (under `--json`, when piped, in the portal's workers).

    with listening(callback):            # the face: callback(Step) on every report, from any thread
        ...
    report("read")                       # the core: a stage without a count
    report("load files", done=3, total=40)

The long steps go through Prefect flows and tasks, which take only serializable parameters: so the listener
is registered for the process (`listening`) rather than passed down as an argument through each flow.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger("campaign.progress")


@dataclass(frozen=True)
class Step:
    stage: str                 # what is being done now ("read", "standardize", "load files", "report district 622")
    done: int | None = None    # how many of `total` are done (None: a stage without a count)
    total: int | None = None


Listener = Callable[[Step], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener` with every Step reported while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def report(stage: str, done: int | None = None, total: int | None = None) -> None:
    """Tell the listeners (if any) where the step stands; a listener's failure never stops the step."""
    if not _listeners:
        return
    step = Step(stage, done, total)
    for listener in tuple(_listeners):
        try:
            listener(step)
        except Exception:  # noqa: BLE001 - progress is a courtesy, never a reason to fail the work
            log.debug("progress listener failed", exc_info=True)
