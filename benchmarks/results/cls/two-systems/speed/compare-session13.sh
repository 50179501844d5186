#!/bin/bash
# Session 13: the whole rows (cortex features, the frozen cortex's transform counted) with the
# session-12 code (main at 77cf1d2, checked out in $OLD) and this session's code, alternated over
# three rounds on a quiet machine, one job at a time (the VM's speed drifts from run to run:
# compare within a round, report medians); then one profiled run per row with this session's code.
OUT=benchmarks/results/cls/two-systems/speed/race-speed.jsonl
OLD=${OLD:-/work/main}
bench() {  # code model label [extra args]
  OMP_NUM_THREADS=1 PYTHONPATH=$1 python benchmarks/spiking_prototype_speed.py --model $2 --features cortex \
    --warmup 1000 --images 2000 --label "$3" --json $OUT "${@:4}" 2>&1 | grep '^{'
}
for rep in ${ROUNDS:-1 2 3}; do  # rounds 4 and 5 were run after: ROUNDS="4 5" PROFILE=0
  for model in cls-patch7-intrinsic-spiking-label-gate-wide cls-onepass-patch7-intrinsic-spiking-label-gate; do
    bench "$OLD" $model "whole row, session 13 comparison, session-12 code, round $rep"
    bench "$PWD" $model "whole row, session 13 comparison, session-13 code, round $rep"
  done
  bench "$PWD" cls-onepass-patch7-intrinsic-spiking-label-gate-r35 "whole row, session 13 comparison, session-13 code, round $rep"
done
[ "${PROFILE:-1}" = 0 ] || for model in cls-patch7-intrinsic-spiking-label-gate-wide cls-onepass-patch7-intrinsic-spiking-label-gate \
             cls-onepass-patch7-intrinsic-spiking-label-gate-r35; do
  bench "$PWD" $model "whole row, session-13 code, profiled" --profile
done
