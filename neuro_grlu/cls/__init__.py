"""Complementary learning systems: a slow, frozen "cortex" and a fast "hippocampus".

* :mod:`.tasks` — task splits, class- and task-incremental evaluation, accuracy matrix and forgetting;
* :mod:`.cortex` — a feature network trained by a named slow rule on declared classes, then frozen;
* :mod:`.hippocampus` — fast one-pass learners on given features (rate three-factor Hebbian,
  label-gated competitive Hebbian units) and their registry;
* :mod:`.spiking_hippocampus` — the Brian2 spiking readout (reward-modulated STDP, dopamine RPE);
* :mod:`.experiment` — the sequential-task and few-shot protocols, one run file each;
* :mod:`.config` — ``kind = "continual"`` model definitions.
"""
