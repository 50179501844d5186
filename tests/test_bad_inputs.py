"""A corpus of bad inputs (issue 18 item 6): definitions, overrides, data directories and run
files, each given to the command line as a user would. Every case must end with exactly one
line on stderr, ``neuro-grlu: error: ...``, and exit status 2 — never a traceback — or be a
documented acceptance (listed in ACCEPTED with the note it prints).

Fast: nothing trains or simulates. ``train``, ``continual`` and ``simulate`` are replaced by
stand-ins that fail the test if reached, so every error must come before work starts. The
data are tiny synthetic IDX files.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuro_grlu.cli import main
from neuro_grlu.io import RunWriter

# --------------------------------------------------------------------------- helpers

GOOD_RATE = """\
[network]
hidden = [8]
activation = "relu"

[rule]
name = "grlu"
pairs = 2

[training]
epochs = 1
seed = 1
"""

GOOD_CONTINUAL = """\
kind = "continual"
system = "cortex+hippocampus"

[protocol]
tasks = "halves"
fewshot = [1]

[cortex]
classes = [0, 1, 2, 3, 4]
epochs = 1

[cortex.network]
hidden = [8]

[cortex.rule]
name = "grlu"
pairs = 2

[hippocampus]
learner = "prototype-hebbian"
"""

GOOD_SPIKING = """\
kind = "spiking"

[simulation]
duration_s = 1.0
chunk_s = 1.0

[populations.exc]
model = "izhikevich"
preset = "RS"
n = 40

[populations.inh]
model = "izhikevich"
preset = "FS"
n = 10

[projections.ee]
pre = "exc"
post = ["exc", "inh"]
fanout = 10
weight = 1.0
plastic = true

[projections.ie]
pre = "inh"
post = ["exc"]
fanout = 10
weight = -1.0
"""


class Reached(AssertionError):
    """The command got past its checks and started work."""


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    """Training, the continual protocol and simulation fail the test if reached."""
    import neuro_grlu.cls.experiment as experiment
    import neuro_grlu.spiking.simulate as simulate
    import neuro_grlu.train as train

    def reached(*args, **kwargs):
        raise Reached("the command started work instead of refusing the input")

    monkeypatch.setattr(train, "train", reached)
    monkeypatch.setattr(experiment, "run_continual", reached)
    monkeypatch.setattr(simulate, "simulate", reached)


def one_line_error(capsys, argv, needle: str) -> str:
    """Run the CLI; assert exit status 2 and one stderr line naming the problem."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stdout {out!r}; stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("neuro-grlu: error: "), err
    assert "Traceback" not in err and needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


def idx_gz(path: Path, array: np.ndarray, type_code: int = 0x08) -> None:
    array = np.ascontiguousarray(array)
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = array.astype(">i2").tobytes() if type_code == 0x0B else array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(header + data, mtime=0))


def write_data(directory: Path, n_train=40, n_test=20, side=28, classes=10, labels=None, test_side=None) -> Path:
    """A tiny MNIST-layout data set (four gzipped IDX files)."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, side), ("t10k", n_test, test_side or side)):
        y = (np.arange(n) % classes).astype(np.uint8) if labels is None else labels[split](n)
        idx_gz(directory / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, s, s)))
        idx_gz(directory / f"{split}-labels-idx1-ubyte.gz", y)
    return directory


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("data"))


# --------------------------------------------------------------------------- rate definitions

def _rate(replace=None, add="", text=None):
    src = GOOD_RATE if text is None else text
    for old, new in (replace or {}).items():
        assert old in src
        src = src.replace(old, new)
    return src + add


RATE_DEFINITIONS = {
    "invalid TOML": ("[network\nhidden = [8]", "not valid TOML"),
    "empty file": ("", "no [rule] name"),
    "unknown table": (_rate(add="[optimizer]\nlr = 1\n"), "unknown table or key 'optimizer'"),
    "unknown top-level key": ("foo = 1\n" + GOOD_RATE, "unknown table or key 'foo'"),
    "unknown network key": (_rate({"activation": "widht = 3\nactivation"}), "widht"),
    "network not a table": ("network = 3\n[rule]\nname = \"grlu\"\n", "must be a table"),
    "hidden empty": (_rate({"[8]": "[]"}), "network.hidden"),
    "hidden zero": (_rate({"[8]": "[0]"}), "network.hidden"),
    "hidden negative": (_rate({"[8]": "[-3]"}), "network.hidden"),
    "hidden a string": (_rate({"[8]": "\"abc\""}), "network.hidden"),
    "hidden a float": (_rate({"[8]": "[1.5]"}), "network.hidden"),
    "hidden a bool": (_rate({"[8]": "[true]"}), "network.hidden"),
    "hidden nested": (_rate({"[8]": "[[8]]"}), "network.hidden"),
    "hidden 1e9 (memory)": (_rate({"[8]": "[1000000000]"}), "TiB of memory"),
    "hidden 1e6 x 3 (memory)": (_rate({"[8]": "[1000000, 1000000, 1000000]"}), "of memory"),
    "activation unknown": (_rate({"\"relu\"": "\"nope\""}), "activation must be one of"),
    "top-k with k = 0": (_rate({"\"relu\"": "\"topk\"\nk = 0.0"}), "k"),
    "top-k with k = 2": (_rate({"\"relu\"": "\"topk\"\nk = 2.0"}), "k"),
    "skip unknown": (_rate({"\"relu\"": "\"relu\"\nskip = \"sideways\""}), "skip"),
    "rule without name": (_rate({"name = \"grlu\"\n": ""}), "no [rule] name"),
    "rule name a number": (_rate({"\"grlu\"": "3"}), "must be a string"),
    "rule unknown": (_rate({"\"grlu\"": "\"magic\""}), "magic"),
    "pairs zero": (_rate({"pairs = 2": "pairs = 0"}), "pairs"),
    "pairs negative": (_rate({"pairs = 2": "pairs = -1"}), "pairs"),
    "pairs a float": (_rate({"pairs = 2": "pairs = 1.5"}), "pairs"),
    "pairs a string": (_rate({"pairs = 2": "pairs = \"x\""}), "pairs"),
    "pairs 1e11 (memory)": (_rate({"pairs = 2": "pairs = 100000000000"}), "TiB of memory"),
    "lr negative": (_rate({"pairs = 2": "pairs = 2\nlr_max = -1.0"}), "lr_max"),
    "lr a string": (_rate({"pairs = 2": "pairs = 2\nlr_max = \"fast\""}), "lr_max"),
    "lr nan": (_rate({"pairs = 2": "pairs = 2\nlr_max = nan"}), "lr_max"),
    "lr inf": (_rate({"pairs = 2": "pairs = 2\nlr_max = inf"}), "lr_max"),
    "lr_min above lr_max": (_rate({"pairs = 2": "pairs = 2\nlr_max = 0.1\nlr_min = 0.5"}), "lr_min"),
    "schedule unknown": (_rate({"pairs = 2": "pairs = 2\nschedule = \"zigzag\""}), "schedule"),
    "unknown rule key": (_rate({"pairs = 2": "pairs = 2\npears = 3"}), "pears"),
    "epochs negative": (_rate({"epochs = 1": "epochs = -1"}), "epochs"),
    "epochs a float": (_rate({"epochs = 1": "epochs = 1.5"}), "epochs"),
    "batch size zero": (_rate({"epochs = 1": "epochs = 1\nbatch_size = 0"}), "batch_size"),
    "seed negative": (_rate({"seed = 1": "seed = -1"}), "seed"),
    "seed a string": (_rate({"seed = 1": "seed = \"x\""}), "seed"),
    "dataset unknown": (_rate(add="[data]\ndataset = \"cifar\"\n"), "dataset"),
    "train limit negative": (_rate(add="[data]\ntrain_limit = -5\n"), "train_limit"),
    "train limit beyond the data": (_rate(add="[data]\ntrain_limit = 100000\n"), "data.train_limit = 100000"),
    "test limit beyond the data": (_rate(add="[data]\ntest_limit = 100000\n"), "data.test_limit = 100000"),
    "validation holds out everything": (_rate(add="[data]\nvalidation = 40\n"), "data.validation = 40"),
    "kind spiking given to train": ("kind = \"spiking\"\n" + GOOD_RATE, "spiking"),
    "kind unknown": ("kind = \"weird\"\n" + GOOD_RATE, "kind"),
}


@pytest.mark.parametrize("case", RATE_DEFINITIONS)
def test_bad_rate_definition(capsys, tmp_path, data, case):
    text, needle = RATE_DEFINITIONS[case]
    path = tmp_path / "def.toml"
    path.write_text(text)
    one_line_error(capsys, ["train", path, "--data", data, "--out", tmp_path / "o.h5", "--no-plot"], needle)
    assert not (tmp_path / "o.h5").exists()  # refused before the run file was created


def test_definition_not_utf8(capsys, tmp_path, data):
    path = tmp_path / "latin1.toml"
    path.write_bytes(GOOD_RATE.replace("[training]", "# caf\xe9\n[training]").encode("latin-1"))
    one_line_error(capsys, ["train", path, "--data", data], "not UTF-8 text (byte 0xe9")


@pytest.mark.parametrize("command", ["continual", "simulate"])
def test_definition_not_utf8_other_kinds(capsys, tmp_path, command):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"kind = \"spiking\"\n# \xff\xfe\n")
    one_line_error(capsys, [command, path], "not UTF-8")


def test_missing_definition(capsys, tmp_path, data):
    one_line_error(capsys, ["train", tmp_path / "nope.toml", "--data", data], "does not exist")
    one_line_error(capsys, ["train", "no-such-model", "--data", data], "unknown model 'no-such-model'")


# --------------------------------------------------------------------------- overrides

OVERRIDES = {
    "no equals sign": (["--set", "rule.pairs"], "table.key=value"),
    "no key": (["--set", "=3"], "table.key=value"),
    "no table": (["--set", "pairs=3"], "table.key=value"),
    "empty part": (["--set", "rule.=3"], "table.key=value"),
    "leading dot": (["--set", ".pairs=3"], "table.key=value"),
    "through a value": (["--set", "rule.pairs.x=3"], "not a table"),
    "unknown table": (["--set", "nonsense.key=1"], "nonsense"),
    "unknown key": (["--set", "rule.pears=3"], "pears"),
    "wrong type": (["--set", "rule.pairs=abc"], "pairs"),
    "float pairs": (["--set", "rule.pairs=1e11"], "pairs"),
    "nested hidden": (["--set", "network.hidden=[[1]]"], "network.hidden"),
    "huge hidden": (["--set", "network.hidden=[1000000000]"], "of memory"),
    "negative epochs": (["--set", "training.epochs=-1"], "epochs"),
    "epochs flag negative": (["--epochs", "-1"], "epochs"),
    "seed flag negative": (["--seed", "-3"], "seed"),
    "train-limit flag beyond the data": (["--train-limit", "100000"], "data.train_limit = 100000"),
    "validation beyond the limit": (["--train-limit", "10", "--set", "data.validation=10"], "data.validation"),
    "rule replaced by a table": (["--set", "rule=3"], "table.key=value"),
    "noise_at outside its set": (["--set", "rule.noise_at=hidden"], "'output', 'input'"),
    "rng outside its set": (["--set", "rule.rng=mt19937"], "'numpy', 'philox'"),
    "decorrelate outside its set": (["--set", "rule.decorrelate=whiten"], "'none', 'antihebbian'"),
    "decorrelate_lr not positive": (["--set", "rule.decorrelate_lr=0"], "decorrelate_lr"),
    "philox on a numpy backend": (["--set", "rule.rng=philox", "--set", "rule.backend=numpy"], "allowed there: rng = 'numpy'"),
    "philox on two hidden layers": (["--set", "rule.rng=philox", "--set", "network.hidden=[8,8]"], "needs the numba backend"),
    "threads on a numpy backend": (["--set", "rule.threads=2", "--set", "rule.backend=numpy"], "allowed there: threads = 1"),
    "threads below one": (["--set", "rule.threads=0"], "threads"),
}


@pytest.mark.parametrize("case", OVERRIDES)
def test_bad_override(capsys, tmp_path, data, case):
    args, needle = OVERRIDES[case]
    path = tmp_path / "def.toml"
    path.write_text(GOOD_RATE)
    one_line_error(capsys, ["train", path, "--data", data, "--out", tmp_path / "o.h5", *args], needle)


# --------------------------------------------------------------------------- data directories

def _files(d: Path):
    return {p.name: p for p in d.iterdir()}


def _zero_train(d):
    write_data(d, n_train=0)


def _zero_test(d):
    write_data(d, n_test=0)


def _missing_test(d):
    write_data(d)
    for p in d.glob("t10k-*"):
        p.unlink()


def _count_mismatch(d):
    write_data(d)
    idx_gz(d / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))


def _label_too_big(d):
    write_data(d)
    idx_gz(d / "train-labels-idx1-ubyte.gz", np.full(40, 12, np.uint8))


def _garbage(d):
    write_data(d)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an idx file at all"))


def _truncated(d):
    write_data(d)
    p = d / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:40])


def _empty_file(d):
    write_data(d)
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")


def _swapped(d):
    write_data(d)
    a, b = d / "train-images-idx3-ubyte.gz", d / "train-labels-idx1-ubyte.gz"
    tmp = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(tmp)


def _shape_mismatch(d):
    write_data(d, test_side=20)


def _int16_images(d):
    write_data(d)
    idx_gz(d / "train-images-idx3-ubyte.gz", np.zeros((40, 28, 28), np.int16), type_code=0x0B)


def _a_file(d):
    d.parent.mkdir(parents=True, exist_ok=True)
    d.write_text("not a directory")


def _empty_dir(d):
    d.mkdir(parents=True)


def _header_lies(d):
    write_data(d)
    header = struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3I", 1000, 28, 28)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(28 * 28 * 40), mtime=0))


DATA_DIRS = {
    "0 training images": (_zero_train, "0 training images"),
    "0 test images": (_zero_test, "0 test images"),
    "test files missing": (_missing_test, "missing in"),
    "labels and images differ in number": (_count_mismatch, "labels"),
    "a label above 9": (_label_too_big, "label 12"),
    "not an IDX file": (_garbage, "idx"),
    "truncated gzip": (_truncated, "train-images"),
    "an empty file": (_empty_file, "t10k-labels"),
    "images and labels swapped": (_swapped, "expected"),
    "train and test shapes differ": (_shape_mismatch, "different data sets"),
    "int16 images": (_int16_images, "uint8"),
    "a file, not a directory": (_a_file, "data"),
    "an empty directory": (_empty_dir, "no IDX data files"),
    "header promises more images": (_header_lies, "train-images"),
    "missing directory": (lambda d: None, "does not exist"),
}


@pytest.mark.parametrize("case", DATA_DIRS)
def test_bad_data_directory(capsys, tmp_path, case):
    make, needle = DATA_DIRS[case]
    d = tmp_path / "data"
    make(d)
    path = tmp_path / "def.toml"
    path.write_text(GOOD_RATE)
    one_line_error(capsys, ["train", path, "--data", d, "--out", tmp_path / "o.h5"], needle)


@pytest.mark.parametrize("case", ["0 training images", "0 test images", "a label above 9", "missing directory"])
def test_bad_data_directory_continual(capsys, tmp_path, case):
    make, needle = DATA_DIRS[case]
    d = tmp_path / "data"
    make(d)
    path = tmp_path / "cont.toml"
    path.write_text(GOOD_CONTINUAL)
    one_line_error(capsys, ["continual", path, "--data", d, "--out", tmp_path / "o.h5"], needle)


# --------------------------------------------------------------------------- continual definitions

def _cont(old, new, text=GOOD_CONTINUAL):
    assert old in text
    return text.replace(old, new)


CONTINUAL = {
    "task class above 9": (_cont('tasks = "halves"', "tasks = [[0, 1], [2, 12]]"), "0-9 (got 12"),
    "task classes not numbers": (_cont('tasks = "halves"', 'tasks = [["a", "b"]]'), "got 'a'"),
    "task classes fractional": (_cont('tasks = "halves"', "tasks = [[0.5, 1.7], [2, 3]]"), "got 0.5"),
    "task classes negative": (_cont('tasks = "halves"', "tasks = [[-1, 2]]"), "got -1"),
    "task classes booleans": (_cont('tasks = "halves"', "tasks = [[true, false]]"), "got True"),
    "no tasks": (_cont('tasks = "halves"', "tasks = []"), "non-empty list"),
    "an empty task": (_cont('tasks = "halves"', "tasks = [[0, 1], []]"), "empty"),
    "a class in two tasks": (_cont('tasks = "halves"', "tasks = [[0, 1], [1, 2]]"), "more than one task"),
    "a class twice in a task": (_cont('tasks = "halves"', "tasks = [[0, 0]]"), "twice"),
    "tasks not nested": (_cont('tasks = "halves"', "tasks = [0, 1, 2]"), "list of class lists"),
    "unknown sequence": (_cont('tasks = "halves"', 'tasks = "thirds"'), "unknown task sequence"),
    "cortex classes empty": (_cont("classes = [0, 1, 2, 3, 4]", "classes = []"), "cortex.classes is empty"),
    "cortex class 42": (_cont("classes = [0, 1, 2, 3, 4]", "classes = [42]"), "cortex.classes"),
    "cortex classes fractional": (_cont("classes = [0, 1, 2, 3, 4]", "classes = [0.5, 1.7]"), "cortex.classes"),
    "cortex classes a string": (_cont("classes = [0, 1, 2, 3, 4]", 'classes = "0-4"'), "cortex.classes"),
    "few-shot size zero": (_cont("fewshot = [1]", "fewshot = [0]"), "protocol.fewshot"),
    "few-shot size fractional": (_cont("fewshot = [1]", "fewshot = [1.5]"), "protocol.fewshot"),
    "few-shot class 11": (_cont("fewshot = [1]", "fewshot = [1]\nfewshot_classes = [5, 11]"), "fewshot_classes"),
    "few-shot one class": (_cont("fewshot = [1]", "fewshot = [1]\nfewshot_classes = [5]"), "at least 2"),
    "few-shot beyond the data": (_cont("fewshot = [1]", "fewshot = [1000]"), "examples per class"),
    "test limit beyond the data": (_cont("fewshot = [1]", "fewshot = [1]\ntest_limit = 100000"), "test_limit"),
    "unknown system": (_cont('system = "cortex+hippocampus"', 'system = "brain"'), "system"),
    "unknown learner": (_cont('learner = "prototype-hebbian"', 'learner = "magic"'), "magic"),
    "unknown cortex rule": (_cont('name = "grlu"', 'name = "magic"'), "magic"),
    "unknown table": (GOOD_CONTINUAL + "\n[extra]\na = 1\n", "extra"),
    "cortex hidden 1e9 (memory)": (_cont("hidden = [8]", "hidden = [1000000000]"), "of memory"),
}


@pytest.mark.parametrize("case", CONTINUAL)
def test_bad_continual_definition(capsys, tmp_path, data, case):
    text, needle = CONTINUAL[case]
    path = tmp_path / "cont.toml"
    path.write_text(text)
    one_line_error(capsys, ["continual", path, "--data", data, "--out", tmp_path / "o.h5"], needle)


def test_continual_classes_missing_from_the_data(capsys, tmp_path):
    d = write_data(tmp_path / "five", classes=5)  # digits 0-4 only
    path = tmp_path / "cont.toml"
    path.write_text(GOOD_CONTINUAL)
    one_line_error(capsys, ["continual", path, "--data", d, "--out", tmp_path / "o.h5"], "not in the data")


# --------------------------------------------------------------------------- continual --resume

def _continual_file(definition: Path, out: Path, *, overrides=(), kind="continual", status="incomplete",
                    state=True) -> None:
    """A continual run file of `definition` (with `overrides`) stopped after stage 1 of 2."""
    from neuro_grlu.cls.config import load_continual

    cfg = load_continual(str(definition), list(overrides))
    with RunWriter(out, config=cfg.to_dict(), seed=1, model=cfg.name, kind=kind, epochs_planned=2) as w:
        w.append_epoch({"class_avg_accuracy": 0.5},
                       learner_state=({}, {"format": 1, "stages": 1}) if state else None)
        if status == "complete":
            w.append_epoch({"class_avg_accuracy": 0.5})
            w.finish()
    if status == "diverged":
        with h5py.File(out, "r+") as f:
            f.attrs["status"] = "diverged"


CONTINUAL_RESUME = {
    "no file": (lambda d, o: None, [], "does not exist"),
    "a complete file": (lambda d, o: _continual_file(d, o, status="complete"), [], "is complete"),
    "a diverged file": (lambda d, o: _continual_file(d, o, status="diverged"), [], "diverged"),
    "a rate run file": (lambda d, o: _continual_file(d, o, kind="rate"), [], "is a rate run"),
    "another configuration": (lambda d, o: _continual_file(d, o, overrides=["cortex.epochs=2"]), [],
                              "cortex.epochs: 2 in the file, 1 now"),
    "another seed": (lambda d, o: _continual_file(d, o), ["--seed", "5"], "protocol.seed: 1 in the file, 5 now"),
    "stages without learner state": (lambda d, o: _continual_file(d, o, state=False), [], "holds no learner state"),
    "with --overwrite": (lambda d, o: _continual_file(d, o), ["--overwrite"], "choose one"),
    "a spiking hippocampus": (lambda d, o: None, ["--set", 'hippocampus.learner="spiking-rstdp"'], "Brian2 network"),
}


@pytest.mark.parametrize("case", CONTINUAL_RESUME)
def test_continual_resume_refusals(capsys, tmp_path, data, case):
    """`continual --resume` refuses, in one line and before the data are read, a file it cannot
    continue; the file is left as it was."""
    make, extra, needle = CONTINUAL_RESUME[case]
    definition, out = tmp_path / "cont.toml", tmp_path / "o.h5"
    definition.write_text(GOOD_CONTINUAL)
    make(definition, out)
    before = out.read_bytes() if out.exists() else None
    one_line_error(capsys, ["continual", definition, "--data", data, "--out", out, "--resume", *extra], needle)
    assert (out.read_bytes() if out.exists() else None) == before


# --------------------------------------------------------------------------- spiking definitions

def _spk(old, new):
    assert old in GOOD_SPIKING
    return GOOD_SPIKING.replace(old, new, 1)


SPIKING = {
    "population of 1e9 neurons (memory)": (_spk("n = 40", "n = 1000000000"), "of memory"),
    "all-to-all 1e6 x 1e6 (memory)": (_spk("n = 40", "n = 1000000") + "\n[projections.big]\npre = \"exc\"\n"
                                       "post = [\"exc\"]\nconnectivity = \"all\"\n", "of memory"),
    "population of 0": (_spk("n = 40", "n = 0"), "n"),
    "population negative": (_spk("n = 40", "n = -5"), "n"),
    "population a float": (_spk("n = 40", "n = 4.5"), "n"),
    "neuron model unknown": (_spk('model = "izhikevich"', 'model = "hodgkin"'), "hodgkin"),
    "preset unknown": (_spk('preset = "RS"', 'preset = "XX"'), "preset"),
    "fanout above the targets": (_spk("fanout = 10", "fanout = 500"), "possible targets"),
    "fanout zero": (_spk("fanout = 10", "fanout = 0"), "fanout"),
    "projection to an unknown population": (_spk('post = ["exc", "inh"]', 'post = ["exc", "nope"]'), "nope"),
    "plastic inhibition": (_spk("weight = -1.0", "weight = -1.0\nplastic = true"), "plastic"),
    "no populations": ("kind = \"spiking\"\n[simulation]\nduration_s = 1.0\n", "populations"),
    "duration negative": (_spk("duration_s = 1.0", "duration_s = -1.0"), "duration_s"),
    "dt zero": (_spk("duration_s = 1.0", "duration_s = 1.0\ndt_ms = 0.0"), "dt_ms"),
    "unknown table": (GOOD_SPIKING + "\n[extra]\na = 1\n", "extra"),
    "w_max below w_min": (GOOD_SPIKING + "\n[plasticity]\nw_min = 2.0\nw_max = 1.0\n", "w_max"),
    "one_to_one of different sizes": (GOOD_SPIKING + "\n[projections.oo]\npre = \"exc\"\npost = [\"inh\"]\n"
                                       "connectivity = \"one_to_one\"\n", "one_to_one"),
    "unknown STDP window": (GOOD_SPIKING + "\n[plasticity]\nwindow = \"quadruplet\"\n", "window"),
    "negative triplet amplitude": (GOOD_SPIKING + "\n[plasticity]\nwindow = \"triplet\"\na3_plus = -0.1\n", "a3_plus"),
    "TD critic without a cue": (GOOD_SPIKING + "\n[dopamine]\ncritic = \"td\"\n", "dopamine.cue"),
    "TD critic cued by neurons": (GOOD_SPIKING + "\n[dopamine]\ncritic = \"td\"\ncue = \"exc\"\n", "spike source"),
    "TD and rate critic together": (GOOD_SPIKING + "\n[dopamine]\ncritic = \"td\"\ncue = \"exc\"\nrpe = true\n",
                                    "two critics"),
}


@pytest.mark.parametrize("case", SPIKING)
def test_bad_spiking_definition(capsys, tmp_path, case):
    text, needle = SPIKING[case]
    path = tmp_path / "spk.toml"
    path.write_text(text)
    one_line_error(capsys, ["simulate", path, "--out", tmp_path / "o.h5", "--no-plot"], needle)


def test_good_definitions_reach_the_work(tmp_path, data):
    """The stand-ins are reached by the good definitions, so every refusal above is the check's."""
    for command, text, extra in (("train", GOOD_RATE, ["--data", data]), ("continual", GOOD_CONTINUAL, ["--data", data]),
                                 ("simulate", GOOD_SPIKING, [])):
        path = tmp_path / f"{command}.toml"
        path.write_text(text)
        with pytest.raises(Reached):
            main([command, str(path), "--out", str(tmp_path / "o.h5"), *map(str, extra)])


# --------------------------------------------------------------------------- documented acceptances

def test_accepted_other_image_shape_says_so(capsys, tmp_path, monkeypatch):
    """Documented acceptance: a definition naming 'mnist' given 20x20 images trains a 400-input
    network and says so in one note; the run file records input_shape (20, 20)."""
    monkeypatch.undo()  # this case trains: 40 images, the NumPy backend (no numba compilation)
    d = write_data(tmp_path / "small", side=20)
    path = tmp_path / "def.toml"
    path.write_text(GOOD_RATE.replace("pairs = 2", "pairs = 2\nbackend = \"numpy\""))
    out = tmp_path / "o.h5"
    assert main(["train", str(path), "--data", str(d), "--out", str(out), "--no-plot", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    notes = [line for line in stdout.splitlines() if line.startswith("note: the definition names dataset")]
    assert len(notes) == 1 and "20x20 images" in notes[0] and "400 inputs" in notes[0]
    from neuro_grlu import read_run

    run = read_run(out)
    assert list(run.arrays["input_shape"]) == [20, 20] and run.weights["W0"].shape == (8, 400)


def test_accepted_running_file_without_epochs(capsys, tmp_path):
    """Documented acceptance (docs/run-file.md): status 'running' with no epoch = in progress or
    killed before its first epoch; inspect shows it."""
    path = _good_run(tmp_path / "r.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["status"], f.attrs["epochs_completed"] = "running", 0
        del f["metrics"]
        g = f.create_group("metrics")
        g.create_dataset("epoch", data=np.zeros(0, np.int64))
    assert main(["inspect", str(path)]) == 0
    assert "status      running: 0/2 epochs" in capsys.readouterr().out


# --------------------------------------------------------------------------- run files

def _good_run(path: Path) -> Path:
    with RunWriter(path, config={"rule": {"name": "grlu"}, "network": {"hidden": [4]}}, seed=1, model="m",
                   epochs_planned=2) as w:
        for e in range(2):
            w.append_epoch({"test_accuracy": 0.5 + 0.1 * e, "train_accuracy": 0.6})
        w.finish(weights={"W0": np.ones((4, 9), np.float32)})
    return path


def _attr(name, value):
    def edit(path):
        with h5py.File(path, "r+") as f:
            f.attrs[name] = value
    return edit


def _del_attr(name):
    def edit(path):
        with h5py.File(path, "r+") as f:
            del f.attrs[name]
    return edit


def _del(name):
    def edit(path):
        with h5py.File(path, "r+") as f:
            del f[name]
    return edit


def _flip_weights(path):
    with h5py.File(path, "r") as f:
        info = f["weights/W0"].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 4)
        data = fh.read(16)
        fh.seek(info.byte_offset + 4)
        fh.write(bytes(b ^ 0xFF for b in data))


def _metric_length(path):
    with h5py.File(path, "r+") as f:
        del f["metrics/test_accuracy"]
        f["metrics"].create_dataset("test_accuracy", data=np.zeros(5))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _foreign_hdf5(path):
    path.unlink()
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)


RUN_FILES = {
    "missing": (lambda p: p.unlink(), "does not exist"),
    "a directory": (lambda p: (p.unlink(), p.mkdir()), "is a directory"),
    "empty": (lambda p: p.write_bytes(b""), "not a valid HDF5 file"),
    "text": (lambda p: p.write_text("hello"), "not a valid HDF5 file"),
    "truncated": (_truncate, "run file"),
    "another HDF5 file": (_foreign_hdf5, "not a neuro_grlu run file"),
    "wrong schema": (_attr("schema", "other.thing"), "not a neuro_grlu run file"),
    "newer schema version": (_attr("schema_version", 99), "schema version 99"),
    "an attribute missing": (_del_attr("config_json"), "config_json"),
    "kind weird": (_attr("kind", "weird"), "unknown kind 'weird'"),
    "status weird": (_attr("status", "paused"), "unknown status 'paused'"),
    "running with epochs": (_attr("status", "running"), "status 'running' with 2 epochs"),
    "complete too early": (_attr("epochs_planned", 5), "status 'complete' after 2 of 5"),
    "more epochs than planned": (_attr("epochs_completed", 3), "epochs_completed=3"),
    "config not JSON": (_attr("config_json", "{nope"), "not valid JSON"),
    "config not an object": (_attr("config_json", json.dumps([1, 2])), "not a JSON object"),
    "metric length differs": (_metric_length, "metric lengths"),
    "no metrics group": (_del("metrics"), "missing /metrics"),
    "flipped bytes in the weights": (_flip_weights, "dataset /weights/W0 fails its Fletcher-32 checksum"),
}


@pytest.mark.parametrize("command", ["inspect", "report", "plot", "strip"])
@pytest.mark.parametrize("case", RUN_FILES)
def test_bad_run_file(capsys, tmp_path, case, command):
    edit, needle = RUN_FILES[case]
    path = _good_run(tmp_path / "run.h5")
    edit(path)
    argv = [command, path] + (["--out", tmp_path / "fig.png"] if command == "plot" else [])
    one_line_error(capsys, argv, needle)
