#!/bin/bash
# Session 13: the whole rows (cortex features) with the session-12 code (main at 77cf1d2, checked
# out in $OLD) and this session's code, alternated over three rounds on a quiet machine, one job
# at a time (the VM's speed drifts between runs: compare within a round, report medians).
OUT=benchmarks/results/cls/two-systems/speed/race-speed.jsonl
OLD=${OLD:-/work/main}
for rep in 1 2 3; do
for model in cls-patch7-intrinsic-spiking-label-gate-wide cls-onepass-patch7-intrinsic-spiking-label-gate; do
for code in "$OLD" "$PWD"; do
  OMP_NUM_THREADS=1 PYTHONPATH=$code python benchmarks/spiking_prototype_speed.py --model $model --features cortex \
    --warmup 1000 --images 2000 --label "whole row (cortex features), session 13 comparison, round $rep" --json $OUT 2>&1 | grep '^{'
done
done
done
