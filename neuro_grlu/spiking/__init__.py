"""Spiking learner on Brian2: neuron models, STDP, eligibility traces and a dopamine-like
global modulator (reward-modulated STDP, Izhikevich 2007).

Modules: :mod:`.config` (TOML definitions), :mod:`.neurons` (equations),
:mod:`.plasticity` (STDP / three-factor synapse), :mod:`.build` (explicit
``brian2.Network``), :mod:`.simulate` (chunked runs, run files), :mod:`.recording`,
:mod:`.experiments` (distal reward, STDP window). Importing this package
does not import Brian2.
"""
