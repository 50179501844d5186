#!/bin/bash
# Session 12 probe: /work/wt/s12-f32 = the final code (22e006e) with one line added to the proto_syn
# Synapses in neuro_grlu/cls/spiking_prototype.py: dtype={"w": np.float32} (single-precision weights).
# Not landed: no speed gain, and decisions change at the last bit.
OUT=/work/runs/s12/f32-probe.jsonl  # copied to speed/float32-probe.jsonl
for rep in 1 2 3; do
for code in /work/wt/s12 /work/wt/s12-f32; do
  (cd $code && PYTHONPATH=$code OMP_NUM_THREADS=1 python /work/wt/s12/benchmarks/spiking_prototype_speed.py --model cls-patch7-intrinsic-spiking-label-gate-wide --warmup 1000 --images 2000 --label "f32 probe round $rep: $code" --json $OUT 2>&1 | grep '^{')
done
done
