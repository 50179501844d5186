#!/bin/bash
# Session 12: the whole rows (frozen cortex transform included, --features cortex) at the final
# code, one job at a time on a quiet machine, the two rows alternated over four rounds.
OUT=benchmarks/results/cls/two-systems/speed/race-speed.jsonl
for rep in 1 2 3 4; do
for model in cls-patch7-intrinsic-spiking-label-gate-wide cls-onepass-patch7-intrinsic-spiking-label-gate; do
  OMP_NUM_THREADS=1 python benchmarks/spiking_prototype_speed.py --model $model --features cortex \
    --warmup 1000 --images 2000 --label "whole row (cortex features), session 12, round $rep" --json $OUT 2>&1 | grep '^{'
done
done
