"""Export a spiking run file to Neurodata Without Borders (NWB 2) with pynwb.

``neuro-grlu export RUN.h5 --nwb OUT.nwb`` (:func:`export_nwb`) writes

* ``units``: one row per simulated neuron (spike sources excluded), with its spike times
  (s; ``resolution`` = the simulation time step), a ``population`` column (the definition's population name) and ``neuron_index``
  (the index within the run's ``neurons`` group, as in ``spike_i``);
* ``processing/model_state``: ``dopamine`` (the global dopamine concentration ``d``,
  dimensionless, unit "a.u.") and, for plastic runs, ``tracked_weights`` (the weights of
  the tracked synapses, in the unit of the projection's weight: mV for Izhikevich and
  current-based LIF, a.u. of conductance for conductance LIF), ``tracked_eligibility``
  (``c``, a.u.) and ``tracked_synapses`` (the synapses' presynaptic and postsynaptic
  neuron indices), each sampled every ``recording.state_dt_ms``;
* metadata: the definition (JSON) in ``notes``; seed, versions, git commit, command and
  creation time of the run in ``source_script`` / ``data_collection`` / ``session_id`` /
  ``session_start_time``.

A run without spike trains (another kind, ``recording.spikes = false`` or a stripped file)
is refused with a one-line :class:`~neuro_grlu.errors.RunFileError`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RunFileError

SOURCES = ("poisson", "generator")
#: Unit of a projection's weight by neuron model (see neuro_grlu.spiking.neurons).
WEIGHT_UNITS = {"izhikevich": "mV", "lif_current": "mV", "lif_conductance": "a.u."}


def _populations(config: dict) -> list[tuple[str, int, int]]:
    out, start = [], 0
    for name, pop in config.get("populations", {}).items():
        if pop.get("model") in SOURCES:
            continue
        out.append((name, start, start + int(pop["n"])))
        start += int(pop["n"])
    return out


def _start_time(created: str) -> datetime:
    try:
        t = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def check_exportable(run) -> None:
    """Raise a one-line RunFileError unless `run` holds spike trains of a spiking run."""
    if run.kind != "spiking":
        raise RunFileError(f"run file {run.path} has kind {run.kind!r}, which holds no spike trains; "
                           "NWB export needs a spiking run (written by `neuro-grlu simulate`)")
    if "spike_i" not in run.arrays or "spike_t" not in run.arrays:
        why = "it was stripped" if getattr(run, "stripped", False) else "recording.spikes was false"
        raise RunFileError(f"run file {run.path} holds no spike trains ({why}); re-run the simulation with "
                           "recording.spikes = true to export it")


def export_nwb(run_path, out, *, overwrite: bool = False) -> Path:
    """Write the spiking run file `run_path` as the NWB file `out`; returns its path."""
    from pynwb import NWBHDF5IO, NWBFile, ProcessingModule, TimeSeries
    from pynwb.file import Subject

    from ..io import read_run

    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it")
    run = read_run(run_path)
    check_exportable(run)
    cfg = run.config
    provenance = {"model": run.model, "seed": run.seed, "versions": run.versions, "git_commit": run.git_commit,
                  "git_dirty": run.git_dirty, "created": run.created, "command": run.command,
                  "status": run.status, "run_file": str(Path(run_path).name), "target": cfg.get("target", "")}
    nwb = NWBFile(
        session_description=(cfg.get("description") or f"spiking model {run.model}")
        + " (simulated with Brian2 by neuro_grlu)",
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, f"neuro_grlu:{run.model}:{run.seed}:{run.created}")),
        session_start_time=_start_time(run.created),
        session_id=f"{run.model}-seed{run.seed}",
        experiment_description=f"neuro_grlu spiking definition {run.model!r}; the definition is stored as JSON "
                               "in notes, the provenance in data_collection",
        notes=json.dumps({k: v for k, v in cfg.items() if k != "target"}, sort_keys=True),
        data_collection=json.dumps(provenance, sort_keys=True, default=str),
        source_script=run.command or "neuro_grlu",
        source_script_file_name="neuro_grlu",
        keywords=["simulation", "spiking network", "Brian2", "STDP", "dopamine"],
        # no animal: the "subject" is the simulated network (nwbinspector requires one)
        # sex "U" (unknown / not applicable) and date_of_birth = the moment the network was
        # built; species is left out (no taxon applies; nwbinspector reports it as a
        # best-practice violation, not an error)
        subject=Subject(subject_id=f"{run.model}-seed{run.seed}", sex="U", date_of_birth=_start_time(run.created),
                        description=f"in-silico spiking network (neuro_grlu definition {run.model!r}, seed "
                                    f"{run.seed}), instantiated when the run started; not an animal"),
    )
    dt_s = float(cfg.get("simulation", {}).get("dt_ms", 1.0)) / 1000.0
    from pynwb.misc import Units

    nwb.units = Units(name="units", description="simulated neurons; spike times on the simulation grid",
                      resolution=dt_s)
    nwb.add_unit_column("population", "population of the neuron in the spiking definition")
    nwb.add_unit_column("neuron_index", "index of the neuron in the run's neurons group (spike_i)")
    i = np.asarray(run.arrays["spike_i"]).astype(np.int64)
    t = np.asarray(run.arrays["spike_t"], dtype=float)
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    bounds = np.searchsorted(i, np.arange(i.max(initial=-1) + 2))
    for name, a, b in _populations(cfg):
        for k in range(a, b):
            spikes = t[bounds[k]:bounds[k + 1]] if k + 1 < len(bounds) else np.zeros(0)
            nwb.add_unit(spike_times=spikes, population=name, neuron_index=k, id=k)
    module = ProcessingModule(name="model_state", description="state of the simulated network: dopamine and tracked synapses")
    nwb.add_processing_module(module)
    state_dt = float(cfg.get("recording", {}).get("state_dt_ms", 10.0)) / 1000.0
    if "dopamine" in run.arrays and len(run.arrays["dopamine"]):
        st = np.asarray(run.arrays.get("state_t", []), dtype=float)
        start = float(st[0]) if len(st) else 0.0
        module.add(TimeSeries(name="dopamine", data=np.asarray(run.arrays["dopamine"], dtype=float), unit="a.u.",
                              starting_time=start, rate=1.0 / state_dt,
                              description="global dopamine concentration d (dimensionless; tonic level "
                                          f"{cfg.get('dopamine', {}).get('tonic', '')})"))
        pops = {p.get("model") for p in cfg.get("populations", {}).values()} - set(SOURCES)
        w_unit = WEIGHT_UNITS.get(next(iter(pops), ""), "a.u.")
        tracked = run.arrays.get("tracked_synapses")
        for key, name, unit, what in (("tracked_w", "tracked_weights", w_unit, "weight w"),
                                      ("tracked_c", "tracked_eligibility", "a.u.", "eligibility trace c")):
            if key in run.arrays and len(run.arrays[key]):
                data = np.asarray(run.arrays[key], dtype=float)
                module.add(TimeSeries(name=name, data=data, unit=unit, starting_time=start, rate=1.0 / state_dt,
                                      description=f"{what} of the tracked plastic synapses (columns: "
                                                  "tracked_synapses rows)"))
        if tracked is not None and "pre_idx" in run.arrays and "post_idx" in run.arrays:
            from hdmf.common import DynamicTable, VectorData

            k = np.asarray(tracked, dtype=np.int64)
            table = DynamicTable(name="tracked_synapses", description="the synapses whose weights are sampled",
                                 columns=[VectorData(name="synapse", description="index in the plastic projection",
                                                     data=k),
                                          VectorData(name="pre_index", description="presynaptic neuron (source-local index)",
                                                     data=np.asarray(run.arrays["pre_idx"])[k].astype(np.int64)),
                                          VectorData(name="post_index", description="postsynaptic neuron (neurons group index)",
                                                     data=np.asarray(run.arrays["post_idx"])[k].astype(np.int64))])
            module.add(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.nwb")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    tmp.replace(out)
    return out
