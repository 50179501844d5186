"""Brian2 code-object profile of the distal-reward network on the C++ standalone target.

Usage: ``python benchmarks/profile_standalone.py DURATION_S BUILD_DIR`` — builds
``izhikevich-distal-reward`` for DURATION_S seconds with ``profile=True``, compiles in
BUILD_DIR (reused if it exists), runs it and prints the build/compile/run times, the load
average and Brian2's ``profiling_summary``. Profiling adds a timer call around every
code object in every time step, so small per-step objects look more expensive than they
are; the ranking of the large ones is what to read.
"""

import os
import sys
import time

import brian2 as b2
from brian2 import second

from neuro_grlu.spiking.build import build_network
from neuro_grlu.spiking.config import load_spiking

dur, d = float(sys.argv[1]), sys.argv[2]
b2.set_device("cpp_standalone", directory=d, build_on_run=False)
b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
cfg = load_spiking("izhikevich-distal-reward", [f"simulation.duration_s={dur}", f"simulation.chunk_s={dur}"])
t0 = time.perf_counter()
built = build_network(cfg)
tb = time.perf_counter() - t0
built.net.run(dur * second, namespace={}, profile=True)
t0 = time.perf_counter()
b2.device.build(directory=d, compile=True, run=False)
tc = time.perf_counter() - t0
t0 = time.perf_counter()
b2.device.run(directory=d, with_output=False)
tr = time.perf_counter() - t0
print(f"build {tb:.1f} s, compile {tc:.1f} s, run {tr:.1f} s (RTF {dur / tr:.1f}), "
      f"{len(built.monitors['spikes'].t)} spikes, load average {os.getloadavg()}")
print(b2.profiling_summary(built.net, show=40))
