"""Neuron models as Brian2 equation strings with units.

Each model is a :class:`NeuronModel`: equations, threshold, reset, refractoriness,
integration method and the statement a synapse executes on a presynaptic spike
(``on_pre``, with ``{w}`` standing for the synaptic weight, dimensionless). Every model
has a membrane potential ``v`` (volt) and an external input ``I_ext`` (volt, the
voltage-equivalent drive per millisecond for Izhikevich neurons, the steady-state
depolarisation for LIF neurons) that the builder defines (noise, frozen noise or a
constant), plus ``I_stim`` (volt, a parameter set from outside, default 0) and
``t_last`` (second, time of the last spike, written by the reset; the nearest-spike
STDP reads it instead of keeping two traces per synapse).

Models
------
``izhikevich``
    Izhikevich (2003) ``v' = 0.04 v^2 + 5 v + 140 - u + I`` (v in mV, t in ms) with
    per-neuron ``a, b, v_reset (= c), u_jump (= d)``; presets ``RS`` (regular spiking)
    and ``FS`` (fast spiking). Integrated as in Izhikevich's own code: the 1 ms step is
    done as two explicit Euler half-steps (``method=IZHIKEVICH_HALF_STEPS``). A synaptic
    spike adds ``w`` mV to ``v`` (the delta-current limit of his ``I += s``).
``lif_current``
    Leaky integrate-and-fire, current-based: ``tau_m v' = (v_rest - v) + I_syn + I_ext``,
    ``tau_syn I_syn' = -I_syn``; a spike adds ``w`` mV to ``I_syn``.
``lif_conductance``
    Leaky integrate-and-fire, conductance-based: ``tau_m v' = (v_rest - v) + g_e (E_e - v)
    + g_i (E_i - v) + I_ext``, exponential conductances (dimensionless, in units of the
    leak conductance); an excitatory spike adds ``w`` to ``g_e``, an inhibitory spike
    (negative ``w``) adds ``|w|`` to ``g_i``.
"""

from __future__ import annotations

from dataclasses import dataclass

from brian2 import ExplicitStateUpdater

from ..errors import ConfigError
from .config import IZHIKEVICH_PRESETS  # noqa: F401  (re-exported)

#: Izhikevich's integration: two explicit Euler half-steps per time step (his
#: ``v += 0.5*(...)`` twice, "for numerical stability"). Unlike his code, ``u`` is also
#: advanced in two half-steps (Brian2's description language updates all variables
#: together); the difference is O(dt^2 a) and does not change spiking qualitatively.
IZHIKEVICH_HALF_STEPS = ExplicitStateUpdater(
    """
    x_half = x + 0.5*dt*f(x, t)
    x_new = x_half + 0.5*dt*f(x_half, t)
    """
)



@dataclass(frozen=True)
class NeuronModel:
    """Brian2 description of a neuron model (see the module docstring).

    ``equations`` lacks the definition of ``I_ext``, which the builder appends;
    ``per_neuron`` lists the per-neuron parameters (name -> Brian2 unit name) the
    builder fills from the population tables; ``on_pre_exc``/``on_pre_inh`` are the
    synaptic effects of an excitatory/inhibitory spike with weight ``{w}``.
    """

    name: str
    equations: str
    threshold: str
    reset: str
    refractory: str | bool
    method: object
    per_neuron: dict
    on_pre_exc: str
    on_pre_inh: str


IZHIKEVICH = NeuronModel(
    name="izhikevich",
    equations="""
    dv/dt = (0.04/mV*v**2 + 5*v + 140*mV - u + I_ext + I_stim)/ms : volt
    du/dt = a*(b*v - u)/ms : volt
    a : 1 (constant)
    b : 1 (constant)
    v_reset : volt (constant)
    u_jump : volt (constant)
    I_stim : volt
    t_last : second
    """,
    threshold="v >= 30*mV",
    reset="v = v_reset; u += u_jump; t_last = t",
    refractory=False,
    method=IZHIKEVICH_HALF_STEPS,
    per_neuron={"a": "1", "b": "1", "v_reset": "mV", "u_jump": "mV"},
    on_pre_exc="v_post += {w}*mV",
    on_pre_inh="v_post += {w}*mV",
)

LIF_CURRENT = NeuronModel(
    name="lif_current",
    equations="""
    dv/dt = (v_rest - v + I_syn + I_ext + I_stim)/tau_m : volt (unless refractory)
    dI_syn/dt = -I_syn/tau_syn : volt
    v_rest : volt (constant)
    v_th : volt (constant)
    v_reset : volt (constant)
    tau_m : second (constant)
    tau_syn : second (constant)
    t_ref : second (constant)
    I_stim : volt
    t_last : second
    """,
    threshold="v > v_th",
    reset="v = v_reset; t_last = t",
    refractory="t_ref",
    method="exact",
    per_neuron={"v_rest": "mV", "v_th": "mV", "v_reset": "mV", "tau_m": "ms", "tau_syn": "ms", "t_ref": "ms"},
    on_pre_exc="I_syn_post += {w}*mV",
    on_pre_inh="I_syn_post += {w}*mV",
)

LIF_CONDUCTANCE = NeuronModel(
    name="lif_conductance",
    equations="""
    dv/dt = (v_rest - v + g_e*(E_e - v) + g_i*(E_i - v) + I_ext + I_stim)/tau_m : volt (unless refractory)
    dg_e/dt = -g_e/tau_e : 1
    dg_i/dt = -g_i/tau_i : 1
    v_rest : volt (constant)
    v_th : volt (constant)
    v_reset : volt (constant)
    E_e : volt (constant)
    E_i : volt (constant)
    tau_m : second (constant)
    tau_e : second (constant)
    tau_i : second (constant)
    t_ref : second (constant)
    I_stim : volt
    t_last : second
    """,
    threshold="v > v_th",
    reset="v = v_reset; t_last = t",
    refractory="t_ref",
    method="euler",
    per_neuron={"v_rest": "mV", "v_th": "mV", "v_reset": "mV", "E_e": "mV", "E_i": "mV",
                "tau_m": "ms", "tau_e": "ms", "tau_i": "ms", "t_ref": "ms"},
    on_pre_exc="g_e_post += {w}",
    on_pre_inh="g_i_post += -({w})",
)

MODELS = {m.name: m for m in (IZHIKEVICH, LIF_CURRENT, LIF_CONDUCTANCE)}


def get_model(name: str) -> NeuronModel:
    """The :class:`NeuronModel` called `name` (ConfigError listing the known ones)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown neuron model {name!r}; known: {', '.join(MODELS)}") from None
