"""Declarative spiking-model definitions (``models/*.toml`` with ``kind = "spiking"``).

A definition describes populations, projections, plasticity, dopamine and the reward
schedule; numbers are plain TOML numbers whose unit is part of the key name
(``tau_c_ms``, ``amplitude_mV``, ``duration_s``); :mod:`neuro_grlu.spiking.build`
attaches Brian2 units. Layout::

    kind = "spiking"
    description = "..."
    [simulation]          duration_s, dt_ms, chunk_s, seed
    [populations.NAME]    model = "izhikevich" | "lif_current" | "lif_conductance" | "poisson", n, ...
    [input]               kind = "uniform" | "frozen_uniform" | "constant" | "none", amplitude_mV, offset_mV
    [projections.NAME]    pre, post = [...], connectivity, fanout, weight, delay_ms, plastic
    [plasticity]          rule, traces, a_plus, a_minus, tau_plus_ms, tau_minus_ms, w_min, w_max,
                          modulation, tau_c_ms, eta_per_s, update_dt_ms,
                          window = "pair" | "triplet", a3_plus, a3_minus, tau_x_ms, tau_y_ms
    [dopamine]            tau_d_ms, tonic, rpe, tau_critic_s, critic = "none" | "td", cue, td_bin_ms, td_units,
                          td_gamma, td_alpha, td_gain, neurons, base_rate_hz, gain_hz
    [reward]              kind = "distal" | "uncorrelated" | "none", amount, window_ms, ...
    [recording]           spikes, state_dt_ms, raster_excerpt_s

Unknown tables or keys, wrong types and impossible values raise
:class:`~neuro_grlu.errors.ConfigError` naming the key and listing what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..definitions import definition_table, load_definition
from ..errors import ConfigError
from ..params import ParamSet, from_dict, param
from ..resources import check_memory

#: Izhikevich (2003) parameters: a (1/ms), b (1/ms), c = v_reset (mV), d = u_jump (mV).
IZHIKEVICH_PRESETS = {
    "RS": dict(a=0.02, b=0.2, v_reset_mV=-65.0, u_jump_mV=8.0),   # regular spiking (excitatory)
    "FS": dict(a=0.1, b=0.2, v_reset_mV=-65.0, u_jump_mV=2.0),    # fast spiking (inhibitory)
    "IB": dict(a=0.02, b=0.2, v_reset_mV=-55.0, u_jump_mV=4.0),   # intrinsically bursting
    "CH": dict(a=0.02, b=0.2, v_reset_mV=-50.0, u_jump_mV=2.0),   # chattering
}

TABLES = ("kind", "name", "description", "simulation", "populations", "input", "projections",
          "plasticity", "dopamine", "reward", "recording", "protocol")


@dataclass(frozen=True)
class SimulationParams(ParamSet):
    duration_s: float = param(10.0, low=0.0, low_open=True, doc="simulated time (s)")
    dt_ms: float = param(1.0, low=0.0, low_open=True, high=10.0, doc="integration time step (ms)")
    chunk_s: float = param(60.0, low=0.0, low_open=True, doc="simulated time per checkpoint row / streamed chunk (s)")
    seed: int = param(1, low=0, doc="seed of connectivity, initial values, frozen inputs and Brian2's RNG")


@dataclass(frozen=True)
class IzhikevichPopulation(ParamSet):
    model: str = param("izhikevich", choices=("izhikevich",), doc="neuron model")
    n: int = param(1, low=1, doc="number of neurons")
    preset: str = param("RS", choices=tuple(IZHIKEVICH_PRESETS), doc="Izhikevich (2003) cell type")
    a: float = param(-1.0, doc="recovery rate (1/ms); -1 = from preset")
    b: float = param(-1.0, doc="recovery sensitivity (1/ms); -1 = from preset")
    v_reset_mV: float = param(-1.0, doc="reset potential c (mV); -1 = from preset")
    u_jump_mV: float = param(-1.0, doc="after-spike jump d of u (mV); -1 = from preset")
    v_init_mV: float = param(-65.0, doc="initial v (mV); u starts at b*v")

    def neuron_values(self) -> dict[str, float]:
        """Per-neuron parameters with presets resolved: a, b (1/ms), v_reset, u_jump (mV)."""
        p = dict(IZHIKEVICH_PRESETS[self.preset])
        for key in ("a", "b", "v_reset_mV", "u_jump_mV"):
            if getattr(self, key) != -1.0:
                p[key] = getattr(self, key)
        return p


@dataclass(frozen=True)
class LIFPopulation(ParamSet):
    model: str = param("lif_current", choices=("lif_current", "lif_conductance"), doc="neuron model")
    n: int = param(1, low=1, doc="number of neurons")
    v_rest_mV: float = param(-70.0, doc="resting potential (mV)")
    v_th_mV: float = param(-50.0, doc="threshold (mV)")
    v_reset_mV: float = param(-70.0, doc="reset potential (mV)")
    tau_m_ms: float = param(20.0, low=0.0, low_open=True, doc="membrane time constant (ms)")
    tau_syn_ms: float = param(5.0, low=0.0, low_open=True, doc="current-based synaptic time constant (ms)")
    tau_e_ms: float = param(5.0, low=0.0, low_open=True, doc="excitatory conductance time constant (ms)")
    tau_i_ms: float = param(10.0, low=0.0, low_open=True, doc="inhibitory conductance time constant (ms)")
    E_e_mV: float = param(0.0, doc="excitatory reversal potential (mV)")
    E_i_mV: float = param(-80.0, doc="inhibitory reversal potential (mV)")
    t_ref_ms: float = param(2.0, low=0.0, doc="refractory period (ms)")
    v_init_mV: float = param(-70.0, doc="initial v (mV)")


@dataclass(frozen=True)
class PoissonPopulation(ParamSet):
    model: str = param("poisson", choices=("poisson",), doc="spike source")
    n: int = param(1, low=1, doc="number of sources")
    rate_hz: float = param(5.0, low=0.0, doc="Poisson rate (Hz); trains are drawn with NumPy from the seed")


@dataclass(frozen=True)
class GeneratorPopulation(ParamSet):
    model: str = param("generator", choices=("generator",), doc="spike source with given spikes")
    n: int = param(1, low=1, doc="number of sources")
    indices: tuple = param((), doc="source index of each spike")
    times_ms: tuple = param((), doc="time of each spike (ms)")


POPULATION_CLASSES = {"izhikevich": IzhikevichPopulation, "lif_current": LIFPopulation,
                      "lif_conductance": LIFPopulation, "poisson": PoissonPopulation,
                      "generator": GeneratorPopulation}
SOURCE_MODELS = ("poisson", "generator")


@dataclass(frozen=True)
class InputParams(ParamSet):
    kind: str = param("uniform", choices=("uniform", "philox", "frozen_uniform", "constant", "none"),
                      doc="external drive of every model neuron: I = offset + amplitude*(U - 1/2), U ~ uniform(0,1) "
                          "drawn each step (uniform: Brian2's RNG, a different stream per target; philox: "
                          "Philox4x32-10 of (seed, step, neuron), the same stream on every target; "
                          "frozen_uniform: NumPy from the seed, target-independent, stored in memory)")
    amplitude_mV: float = param(13.0, low=0.0, doc="peak-to-peak amplitude of the uniform noise (mV)")
    offset_mV: float = param(0.0, doc="constant part of the drive (mV)")


@dataclass(frozen=True)
class ProjectionParams(ParamSet):
    pre: str = param("", doc="presynaptic population")
    post: tuple = param((), doc="postsynaptic populations (targets drawn jointly from their union)")
    connectivity: str = param("fanout", choices=("fanout", "all", "one_to_one"),
                              doc="fanout: each pre neuron picks `fanout` distinct targets (no self-connections)")
    fanout: int = param(1, low=1, doc="synapses per presynaptic neuron (connectivity = fanout)")
    weight: float = param(1.0, doc="initial weight (mV jump for Izhikevich / current-LIF, conductance for conductance-LIF; negative = inhibitory)")
    delay_ms: float = param(1.0, low=0.0, doc="axonal delay (ms)")
    plastic: bool = param(False, doc="apply [plasticity] to this projection (excitatory only)")


@dataclass(frozen=True)
class PlasticityParams(ParamSet):
    rule: str = param("additive", choices=("additive", "multiplicative"),
                      doc="additive: dw = A*trace; multiplicative: LTP scaled by (w_max - w)/w_max, LTD by w/w_max")
    traces: str = param("nearest", choices=("nearest", "all_to_all"),
                        doc="nearest: a spike resets its trace to 1 (Izhikevich's code); all_to_all: adds 1")
    a_plus: float = param(1.0, low=0.0, doc="LTP amplitude A+ (per pre-before-post pair at zero lag)")
    a_minus: float = param(1.5, low=0.0, doc="LTD amplitude A- (per post-before-pre pair at zero lag)")
    tau_plus_ms: float = param(20.0, low=0.0, low_open=True, doc="presynaptic trace time constant (ms)")
    tau_minus_ms: float = param(20.0, low=0.0, low_open=True, doc="postsynaptic trace time constant (ms)")
    w_min: float = param(0.0, doc="lower weight bound")
    w_max: float = param(4.0, doc="upper weight bound")
    modulation: str = param("dopamine", choices=("dopamine", "none"),
                            doc="dopamine: STDP writes eligibility c and dw/dt = eta*c*d; none: STDP writes w directly")
    tau_c_ms: float = param(1000.0, low=0.0, low_open=True, doc="eligibility-trace time constant (ms)")
    eta_per_s: float = param(10.0, low=0.0, doc="dw/dt = eta*c*d (1/s); 10/s reproduces Izhikevich's code (s += 0.1*c*d every 10 ms)")
    update: str = param("grid", choices=("grid", "event"),
                        doc="dopamine modulation: grid = w and c updated every update_dt_ms (Izhikevich's code); "
                            "event = dw/dt = eta*c*d integrated exactly at each spike of the synapse")
    update_dt_ms: float = param(10.0, low=0.0, low_open=True, doc="grid on which w and c are updated (ms; update = grid)")
    stdp_scale: float = param(1.0, low=0.0, doc="factor on A+/A- when modulation = none (weight units per pair)")
    window: str = param("pair", choices=("pair", "triplet"),
                        doc="pair: classical pair-based STDP; triplet: Pfister & Gerstner (2006), a_plus/a_minus "
                            "are A2+/A2-, with the triplet terms a3_plus, a3_minus and slow traces tau_x, tau_y")
    a3_plus: float = param(0.0, low=0.0, doc="triplet LTP amplitude A3+ (post spike x fast pre trace x slow post trace)")
    a3_minus: float = param(0.0, low=0.0, doc="triplet LTD amplitude A3- (pre spike x fast post trace x slow pre trace)")
    tau_x_ms: float = param(101.0, low=0.0, low_open=True, doc="slow presynaptic trace r2 time constant (ms), triplet only")
    tau_y_ms: float = param(125.0, low=0.0, low_open=True, doc="slow postsynaptic trace o2 time constant (ms), triplet only")


@dataclass(frozen=True)
class DopamineParams(ParamSet):
    tau_d_ms: float = param(200.0, low=0.0, low_open=True, doc="dopamine decay time constant (ms)")
    tonic: float = param(0.002, doc="tonic dopamine level d relaxes to")
    rpe: bool = param(False, doc="subtract the critic's running expected reward rate (reward-prediction error)")
    tau_critic_s: float = param(100.0, low=0.0, low_open=True, doc="averaging time of the critic's reward-rate estimate (s)")
    critic: str = param("none", choices=("none", "td"),
                        doc="td: a temporal-difference critic (Schultz, Dayan & Montague 1997) over a tapped delay "
                            "line started by spikes of the population `cue`; rewards enter its TD error, and "
                            "d jumps by td_gain * delta at every bin")
    cue: str = param("", doc="population whose spikes start the critic's delay line (critic = \"td\")")
    td_bin_ms: float = param(50.0, low=0.0, low_open=True, doc="time bin of the TD critic (ms)")
    td_units: int = param(30, low=1, doc="delay-line units: unit k is on in the k-th bin after a cue")
    td_gamma: float = param(0.98, low=0.0, high=1.0, doc="discount per bin")
    td_alpha: float = param(0.2, low=0.0, doc="critic learning rate per bin (value units per unit of TD error)")
    td_gain: float = param(1.0, doc="jump of d per unit of TD error")
    neurons: int = param(0, low=0, doc="dopamine neurons firing as Poisson units at rate max(0, base_rate_hz + gain_hz*(d - tonic)); 0 = none")
    base_rate_hz: float = param(5.0, low=0.0, doc="background rate of the dopamine neurons (Hz)")
    gain_hz: float = param(40.0, low=0.0, doc="rate change of the dopamine neurons per unit of d above tonic (Hz)")


@dataclass(frozen=True)
class RewardParams(ParamSet):
    kind: str = param("none", choices=("distal", "uncorrelated", "times", "none"),
                      doc="distal: reward after post fires within window_ms after pre on the chosen synapse; "
                          "uncorrelated: Poisson rewards at rate_hz; times: rewards at times_s; none: no reward "
                          "(coincidences on the chosen synapse are still counted if projection is set)")
    amount: float = param(0.5, doc="dopamine released per reward")
    projection: str = param("", doc="plastic projection holding the chosen synapse")
    chosen_pre: int = param(0, low=0, doc="index of the chosen synapse's presynaptic neuron within the projection's pre population")
    chosen_rank: int = param(0, low=0, doc="which of that neuron's outgoing synapses (0 = first)")
    chosen_w_init: float = param(0.0, doc="initial weight of the chosen synapse")
    window_ms: float = param(20.0, low=0.0, low_open=True, doc="post must fire within this time after pre (ms)")
    delay_min_ms: float = param(1000.0, low=0.0, doc="shortest reward delay (ms)")
    delay_max_ms: float = param(3000.0, low=0.0, doc="longest reward delay (ms)")
    max_pending: int = param(64, low=1, doc="reward timers (pending rewards at most)")
    rate_hz: float = param(0.1, low=0.0, doc="uncorrelated reward rate (Hz)")
    times_s: tuple = param((), doc="reward times (s) for kind = \"times\"")


@dataclass(frozen=True)
class RecordingParams(ParamSet):
    spikes: bool = param(True, doc="record every spike (index, time)")
    state_dt_ms: float = param(10.0, low=0.0, low_open=True, doc="sampling interval of chosen-synapse w, c and dopamine (ms)")
    raster_excerpt_s: float = param(1.0, low=0.0, doc="length of the raster excerpts plotted at start and end (s)")


@dataclass(frozen=True)
class ProtocolParams(ParamSet):
    """The STDP pairing protocol (``neuro-grlu stdp-window``)."""

    n_pairs: int = param(60, low=1, doc="pairings per lag")
    rate_hz: float = param(1.0, low=0.0, low_open=True, doc="pairing frequency (Hz)")
    lag_min_ms: float = param(-100.0, doc="most negative target lag t_post - t_pre (ms)")
    lag_max_ms: float = param(100.0, doc="most positive target lag (ms)")
    lag_step_ms: float = param(5.0, low=0.0, low_open=True, doc="spacing of the target lags (ms); lag 0 is skipped")
    w_init: float = param(1.0, low=0.0, low_open=True, doc="initial weight; changes are reported in % of it")
    kick_mV: float = param(100.0, low=0.0, low_open=True, doc="jump of v that makes a neuron fire at a chosen time (mV)")


@dataclass(frozen=True)
class SpikingConfig:
    """A validated spiking-model definition (see the module docstring)."""

    name: str
    description: str
    simulation: SimulationParams
    populations: dict  # name -> population ParamSet (ordered)
    input: InputParams
    projections: dict  # name -> ProjectionParams (ordered)
    plasticity: PlasticityParams
    dopamine: DopamineParams
    reward: RewardParams
    recording: RecordingParams
    protocol: ProtocolParams | None = None

    def to_dict(self) -> dict[str, Any]:
        """The full definition with defaults filled in (TOML/JSON-compatible types)."""
        return {
            "kind": "spiking", "name": self.name, "description": self.description,
            "simulation": self.simulation.to_dict(),
            "populations": {k: v.to_dict() for k, v in self.populations.items()},
            "input": self.input.to_dict(),
            "projections": {k: v.to_dict() for k, v in self.projections.items()},
            "plasticity": self.plasticity.to_dict(), "dopamine": self.dopamine.to_dict(),
            "reward": self.reward.to_dict(), "recording": self.recording.to_dict(),
            **({"protocol": self.protocol.to_dict()} if self.protocol is not None else {}),
        }

    @property
    def model_populations(self) -> list[str]:
        """Names of the populations simulated as neurons (not Poisson sources), in order."""
        return [k for k, p in self.populations.items() if p.model not in SOURCE_MODELS]


#: Lower bounds of the memory one neuron and one synapse take in a Brian2 network (bytes):
#: a neuron's state variables (v, u, I, ...; float64) and a synapse's weight, eligibility and indices.
NEURON_BYTES, SYNAPSE_BYTES = 8 * 4, 8 + 8 + 2 * 4


def n_synapses(populations: dict, projections: dict) -> int:
    """Number of synapses the projections create (fanout: pre × fanout; all: pre × post; one_to_one: pre)."""
    total = 0
    for proj in projections.values():
        n_pre, n_post = populations[proj.pre].n, sum(populations[p].n for p in proj.post)
        total += {"fanout": n_pre * proj.fanout, "all": n_pre * n_post, "one_to_one": n_pre}[proj.connectivity]
    return total


def network_memory_bytes(populations: dict, projections: dict) -> int:
    """A lower bound of the memory (bytes) the network's neurons and synapses take."""
    return NEURON_BYTES * sum(p.n for p in populations.values()) + SYNAPSE_BYTES * n_synapses(populations, projections)


def parse_spiking(raw: dict[str, Any], name: str = "custom") -> SpikingConfig:
    """Validate a spiking definition given as a dict (the parsed TOML)."""
    if raw.get("kind") != "spiking":
        raise ConfigError(f"model {name!r} is not a spiking model (needs kind = \"spiking\"); "
                          "train rate models with `neuro-grlu train`")
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise ConfigError(f"unknown table or key {', '.join(map(repr, unknown))} in spiking model {name!r}; "
                          f"allowed: {', '.join(TABLES)}")
    populations = {}
    for pname, table in definition_table(raw, "populations", name).items():
        if not isinstance(table, dict):
            raise ConfigError(f"[populations.{pname}] in model {name!r} must be a table")
        model = table.get("model", "izhikevich")
        if model not in POPULATION_CLASSES:
            raise ConfigError(f"populations.{pname}.model must be one of {', '.join(map(repr, POPULATION_CLASSES))} (got {model!r})")
        populations[pname] = pop = from_dict(POPULATION_CLASSES[model], table, f"populations.{pname}")
        if model == "generator":
            if len(pop.indices) != len(pop.times_ms):
                raise ConfigError(f"populations.{pname}: indices and times_ms must have the same length")
            if any(not isinstance(k, int) or not 0 <= k < pop.n for k in pop.indices):
                raise ConfigError(f"populations.{pname}.indices must be integers in [0, {pop.n})")
            if any(isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0 for t in pop.times_ms):
                raise ConfigError(f"populations.{pname}.times_ms must be non-negative numbers")
    if not populations:
        raise ConfigError(f"spiking model {name!r} defines no [populations.NAME] table")
    models = {p.model for p in populations.values() if p.model not in SOURCE_MODELS}
    if len(models) > 1:
        raise ConfigError(f"spiking model {name!r} mixes neuron models {sorted(models)}; all non-Poisson "
                          "populations must share one model (they are built as one NeuronGroup)")
    projections = {}
    for jname, table in definition_table(raw, "projections", name).items():
        if not isinstance(table, dict):
            raise ConfigError(f"[projections.{jname}] in model {name!r} must be a table")
        table = dict(table)
        if isinstance(table.get("post"), str):
            table["post"] = [table["post"]]
        proj = from_dict(ProjectionParams, table, f"projections.{jname}")
        for pop in (proj.pre, *proj.post):
            if pop not in populations:
                raise ConfigError(f"projections.{jname} refers to population {pop!r}; defined: {', '.join(populations)}")
        if not proj.post:
            raise ConfigError(f"projections.{jname}.post must list at least one population")
        if any(populations[p].model in SOURCE_MODELS for p in proj.post):
            raise ConfigError(f"projections.{jname}: a spike source ({', '.join(SOURCE_MODELS)}) cannot be postsynaptic")
        if proj.connectivity == "fanout":
            targets = sum(populations[p].n for p in proj.post) - (1 if proj.pre in proj.post else 0)
            if proj.fanout > targets:
                raise ConfigError(f"projections.{jname}.fanout = {proj.fanout} exceeds the {targets} possible targets "
                                  f"in {', '.join(proj.post)} (no self-connections); lower it")
        if proj.connectivity == "one_to_one" and sum(populations[p].n for p in proj.post) != populations[proj.pre].n:
            raise ConfigError(f"projections.{jname}: one_to_one needs as many post neurons as pre neurons "
                              f"({sum(populations[p].n for p in proj.post)} vs {populations[proj.pre].n})")
        if proj.plastic and proj.weight < 0:
            raise ConfigError(f"projections.{jname}: only excitatory (weight >= 0) projections can be plastic")
        projections[jname] = proj
    plasticity = from_dict(PlasticityParams, definition_table(raw, "plasticity", name), "plasticity")
    if plasticity.w_max <= plasticity.w_min:
        raise ConfigError(f"plasticity.w_max must exceed plasticity.w_min (got {plasticity.w_max} <= {plasticity.w_min})")
    reward = from_dict(RewardParams, definition_table(raw, "reward", name), "reward")
    if any(isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0 for t in reward.times_s):
        raise ConfigError("reward.times_s must be non-negative numbers (s)")
    sim = from_dict(SimulationParams, definition_table(raw, "simulation", name), "simulation")
    if reward.kind == "distal" or reward.projection:
        proj = projections.get(reward.projection)
        if proj is None or not proj.plastic:
            plastic = [k for k, p in projections.items() if p.plastic]
            raise ConfigError(f"reward.projection must name a plastic projection (got {reward.projection!r}; "
                              f"plastic: {', '.join(plastic) or 'none'})")
        if reward.chosen_pre >= populations[proj.pre].n:
            raise ConfigError(f"reward.chosen_pre = {reward.chosen_pre} but population {proj.pre!r} has "
                              f"{populations[proj.pre].n} neurons")
        if proj.connectivity == "fanout" and reward.chosen_rank >= proj.fanout:
            raise ConfigError(f"reward.chosen_rank = {reward.chosen_rank} but projection {reward.projection!r} "
                              f"has fanout {proj.fanout}")
        if reward.delay_max_ms < reward.delay_min_ms:
            raise ConfigError("reward.delay_max_ms must be >= reward.delay_min_ms")
    for jname, proj in projections.items():
        if proj.delay_ms and proj.delay_ms < sim.dt_ms and proj.delay_ms != 0:
            raise ConfigError(f"projections.{jname}.delay_ms = {proj.delay_ms} is below dt_ms = {sim.dt_ms}")
    dopamine = from_dict(DopamineParams, definition_table(raw, "dopamine", name), "dopamine")
    if dopamine.critic == "td":
        if dopamine.rpe:
            raise ConfigError("dopamine.rpe = true and dopamine.critic = \"td\" are two critics; choose one")
        if dopamine.cue not in populations:
            raise ConfigError(f"dopamine.cue must name the population whose spikes are the cue (got {dopamine.cue!r}; "
                              f"defined: {', '.join(populations)})")
        if populations[dopamine.cue].model not in SOURCE_MODELS:
            raise ConfigError(f"dopamine.cue = {dopamine.cue!r} must be a spike source (model \"generator\" or "
                              f"\"poisson\"), not a {populations[dopamine.cue].model} population")
        if dopamine.td_bin_ms < sim.dt_ms:
            raise ConfigError(f"dopamine.td_bin_ms ({dopamine.td_bin_ms}) must be >= simulation.dt_ms ({sim.dt_ms})")
    elif dopamine.cue:
        raise ConfigError("dopamine.cue is only used with dopamine.critic = \"td\"")
    if plasticity.update == "event" and plasticity.modulation == "dopamine" and (
            dopamine.rpe or dopamine.critic != "none" or dopamine.tonic < 0 or reward.amount < 0):
        raise ConfigError("plasticity.update = \"event\" needs dopamine.rpe = false, dopamine.critic = \"none\", dopamine.tonic >= 0 and "
                          "reward.amount >= 0 (the exact integral assumes d >= 0); use update = \"grid\" otherwise")
    if plasticity.update_dt_ms < sim.dt_ms:
        raise ConfigError(f"plasticity.update_dt_ms ({plasticity.update_dt_ms}) must be >= simulation.dt_ms ({sim.dt_ms})")
    check_memory(network_memory_bytes(populations, projections),
                 f"spiking model {name!r} ({sum(p.n for p in populations.values())} neurons, "
                 f"{n_synapses(populations, projections)} synapses)",
                 "reduce populations.NAME.n or the projections' fanout")
    return SpikingConfig(
        name=str(raw.get("name", name)), description=str(raw.get("description", "")),
        simulation=sim, populations=populations,
        input=from_dict(InputParams, definition_table(raw, "input", name), "input"),
        projections=projections, plasticity=plasticity,
        dopamine=dopamine,
        reward=reward, recording=from_dict(RecordingParams, definition_table(raw, "recording", name), "recording"),
        protocol=from_dict(ProtocolParams, definition_table(raw, "protocol", name), "protocol") if "protocol" in raw else None,
    )


def load_spiking(name_or_path: str, overrides: list[str] | None = None) -> SpikingConfig:
    """Load and validate a spiking definition (``models/NAME.toml`` or a path)."""
    return parse_spiking(*load_definition(name_or_path, overrides))
