"""Reading Brian2 monitors chunk by chunk into a run file, and measuring peak memory.

Streams written by :func:`drain` (all under ``/arrays`` of the finished run file):

==============  =================  ======  ===============================================
name            shape              units   content
==============  =================  ======  ===============================================
spike_i         (n_spikes,) int32          neuron index in ``neurons`` (populations in order)
spike_t         (n_spikes,) f8     s       spike time
state_t         (n_samples,) f8    s       sample times of the three streams below
tracked_w       (n_samples, k) f4          weights of the tracked synapses (column 0 = chosen)
tracked_c       (n_samples, k) f4          their eligibility traces
dopamine        (n_samples,) f8            dopamine concentration d
w_hist          (n_chunks, 100) i8         histogram of all plastic weights at each chunk start
reward_t        (n_rewards,) f8    s       times dopamine was released
scheduled_t     (n_coinc,) f8      s       times a coincidence (post within window after pre) was detected
==============  =================  ======  ===============================================
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np


def _clear_spike_monitor(mon) -> None:
    mon.resize(0)
    mon.variables["N"].set_value(0)


def _clear_state_monitor(mon) -> None:
    mon.resize(0)


def spikes_in(mon, t0: float, t1: float, *, clear: bool, cache: dict | None = None):
    """(i int32, t float64 s) of `mon`'s spikes with t0 <= t < t1 (all if clear).

    Without `clear`, a dict passed as `cache` keeps the monitor's arrays after the first
    call, so reading a long standalone run chunk by chunk copies them once (times are
    sorted: each chunk is a slice).
    """
    key = (id(mon), "spikes")
    if not clear and cache is not None and key in cache:
        i, t = cache[key]
    else:
        i = np.array(mon.i[:], dtype=np.int32, copy=True)  # copies: clearing reuses the memory
        t = np.array(mon.t_[:], dtype=np.float64, copy=True)
        if clear:
            _clear_spike_monitor(mon)
            return i, t
        if cache is not None:
            cache[key] = (i, t)
    a, b = np.searchsorted(t, [t0, t1], side="left")
    return i[a:b], t[a:b]


def states_in(mon, names, t0: float, t1: float, *, clear: bool, cache: dict | None = None):
    """Sample times (s) and ``{name: values (n_samples, k)}`` of a StateMonitor in [t0, t1)
    (all if clear; `cache` as in :func:`spikes_in`)."""
    key = (id(mon), "states", tuple(names))
    if not clear and cache is not None and key in cache:
        t, values = cache[key]
    else:
        t = np.array(mon.t_[:], dtype=np.float64, copy=True)
        values = {n: np.array(getattr(mon, n + "_") if hasattr(mon, n + "_") else getattr(mon, n), copy=True).T
                  for n in names}
        if clear:
            _clear_state_monitor(mon)
            return t, values
        if cache is not None:
            cache[key] = (t, values)
    a, b = np.searchsorted(t, [t0 - 1e-9, t1 - 1e-9], side="left")
    return t[a:b], {n: v[a:b] for n, v in values.items()}


class PeakMemory:
    """Peak resident memory (bytes) of this process and all its descendants, sampled.

    Use as a context manager; ``peak`` is the largest sum of VmRSS over the process tree
    seen by a background thread polling ``/proc`` every `interval` seconds (Linux only;
    elsewhere ``peak`` is this process's ``ru_maxrss``). ``peak_self`` is this process's
    high-water mark (VmHWM).
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self.peak_self = 0
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def _rss_tree(root: int) -> int:
        proc = Path("/proc")
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for p in proc.iterdir():
            if not p.name.isdigit():
                continue
            try:
                stat = (p / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                status = (p / "status").read_text()
            except (OSError, IndexError, ValueError):
                continue
            pid = int(p.name)
            children.setdefault(ppid, []).append(pid)
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    rss[pid] = int(line.split()[1]) * 1024
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, []))
        return total

    def _poll(self):
        pid = os.getpid()
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._rss_tree(pid))
            except OSError:
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        if Path("/proc/self/status").exists():
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_self = int(line.split()[1]) * 1024
        except OSError:
            import resource
            self.peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = max(self.peak, self.peak_self)
        return False


def wall_clock() -> float:
    return time.perf_counter()
