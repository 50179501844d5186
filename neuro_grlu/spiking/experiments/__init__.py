"""Experiments on the spiking learner: distal reward (Izhikevich 2007) and the STDP window."""
