#!/bin/bash
# Session 12: the wide row's training speed, one job at a time, the three versions interleaved in
# each round: /work/main = df5fbfe (session 11), /work/wt/s12-before = c42f8d7 (learn events, one
# lateral Synapses object, the label read once per presentation), /work/wt/s12 = 477b135 (+ the
# int32 presynaptic stamp). Every version runs this benchmark script with its own package.
OUT=/work/wt/s12/benchmarks/results/cls/two-systems/speed/race-speed.jsonl
for rep in 1 2 3 4 5; do   # rounds 1-2 at 21:28-21:32, 3-5 at 21:33-21:39 UTC (load ~1)
for code in /work/main /work/wt/s12-before /work/wt/s12; do
  (cd $code && PYTHONPATH=$code OMP_NUM_THREADS=1 python /work/wt/s12/benchmarks/spiking_prototype_speed.py --model cls-patch7-intrinsic-spiking-label-gate-wide --warmup 1000 --images 2000 --label "wide, race 35 steps, session 12 comparison run $rep: $(git -C $code log --oneline -1 | cut -c1-60)" --json $OUT 2>&1 | grep '^{')
done
done
