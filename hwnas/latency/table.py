"""LatencyTable: measured per-op latency on one device/backend, as schema-versioned JSON.

The prediction for a network is the sum of its ops' entries in the table's statistic
(`latency_stat`: p0, p10, p50 or p90, chosen when it was profiled; p50 for tables that do not
say), corrected by the table's calibration when it has one (affine, then the learned residual
of whole networks). A calibration is fitted on whole networks measured in one statistic and
predicts only that one; an uncalibrated table predicts any statistic its entries hold.
Loading checks schema, units and values; using a table for another backend, batch or dtype is
an error. A table may carry a `reference`: the reference workload timed with it
(hwnas.tables.reference) and its time at the speed the table's predictions are expressed in;
tables without one (older ones) load and predict as before. An int8 table carries the
settings its ops were quantized with (`quantization`, hwnas.nn.quantize).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.fileio import atomic_write_json, check_input_file, may_exist
from hwnas.latency import calibration
from hwnas.latency import residual as residual_model
from hwnas.limits import MAX_COST
from hwnas.ops import OpSignature
from hwnas.quoting import shell_word
from profilers.measurement import LATENCY_STATS

SCHEMA = 1
STATS = ("p0", "p10", "p50", "p90", "mean", "std")
REQUIRED_STATS = ("p50", "p90", "mean", "std")  # p0 and p10: absent in tables made before
DEFAULT_STAT = "p50"  # of a table that names no statistic (made before they could)


@dataclass
class LatencyTable:
    backend: str
    device: dict
    batch: int = 1
    dtype: str = "fp32"
    threads: int | None = None
    space: dict = field(default_factory=dict)  # {"name": ..., "config": {...}} it was made for
    entries: dict[str, dict] = field(default_factory=dict)
    calibration: dict | None = None
    reference: dict | None = None  # {"key", "op", "ms", ...}: see hwnas.tables.reference
    stat: str = DEFAULT_STAT  # the statistic its predictions are in (and its reference's ms)
    machine: dict | None = None  # how the machine repeated itself when profiled (repeatability)
    # int8 only: the settings its models were quantized with (hwnas.nn.quantize.QuantSettings
    # as data), part of the header and the hash: two int8 tables quantized otherwise differ
    quantization: dict | None = None
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(
        timespec="seconds"))
    units: str = "ms"
    path: Path | None = None

    # -- lookups ----------------------------------------------------------------------------
    def missing(self, sigs: Iterable[OpSignature]) -> list[str]:
        return sorted({s.key for s in sigs if s.key not in self.entries})

    def lookup(self, sig: OpSignature, stat: str | None = None) -> float:
        stat = self.check_stat(stat, calibrated=False)
        entry = self.entries.get(sig.key)
        if entry is None:
            raise MissingLatencyError([sig.key], self.path, self.fill_command())
        return float(entry[stat])

    def check_stat(self, stat: str | None = None, calibrated: bool = True) -> str:
        """`stat` (None: the table's own), refused in one line when the table cannot predict
        in it: a statistic its entries lack (tables made before p0/p10 were kept), or, for a
        `calibrated` prediction, another statistic than the calibration was fitted on."""
        stat = self.stat if stat is None else stat
        if stat not in STATS:
            raise BadInputError(f"unknown latency statistic {stat!r}; allowed: {', '.join(STATS)}")
        where = f"latency table {self.path}" if self.path else "the latency table"
        # the table's own statistic is in every entry (checked on load, written by profile):
        # only another optional one needs the scan, kept off the per-prediction path
        if stat != self.stat and stat not in REQUIRED_STATS \
                and any(stat not in e for e in self.entries.values()):
            raise BadInputError(f"{where} has no {stat} entries (it was profiled before they "
                                f"were kept); profile a new one with `{self.fill_command()} "
                                f"--latency-stat {stat} -o NEW.json`")
        fitted = (self.calibration or {}).get("stat", DEFAULT_STAT)
        if calibrated and self.calibration and stat != fitted:
            raise BadInputError(f"{where} is calibrated for {fitted}, not {stat}: its "
                                "predictions would mix two statistics; use --latency-stat "
                                f"{fitted}, or calibrate a copy for {stat} with `hwnas tables "
                                f"calibrate {shell_word(self.path) if self.path else 'TABLE'} "
                                f"--latency-stat {stat} "
                                "--out NEW.json`")
        return stat

    def predict_ops(self, sigs: list[OpSignature], stat: str | None = None,
                    calibrated: bool = True, residual: bool = True, floor: bool = True) -> float:
        """The table's prediction for the whole network, in ms of statistic `stat` (None: the
        table's own): the calibrated sum of the ops' entries when the table carries a
        calibration, else the plain sum.

        `residual`: apply the calibration's learned whole-network correction when it has one.
        `floor`: never below the network's floor, a share of its plain sum
        (hwnas.latency.floor). Both are functions of the whole network, so a caller that
        predicts parts of networks (differences of predictions, as the one-shot expected cost
        does) passes False for both."""
        stat = self.check_stat(stat, calibrated and bool(self.calibration))
        missing = self.missing(sigs)
        if missing:
            raise MissingLatencyError(missing, self.path, self.fill_command())
        if calibrated and self.calibration:
            return calibration.predict(self.calibration, sigs, self.entries, stat,
                                       residual=residual, floor=floor)
        return sum(float(self.entries[s.key][stat]) for s in sigs)

    def content_hash(self) -> str:
        """sha256 of what defines the table's predictions: header, entries, calibration and
        reference, as canonical JSON; not when it was written nor where it lies, nor the
        record of which fit the last calibration kept (a calibration that keeps the previous
        one leaves the predictions, and so the hash, as they were). A run, an export and a
        validation report store it, to tell later whether the table at a path is still the
        one they used."""
        content = {k: v for k, v in self.to_dict().items() if k != "created"}
        if content.get("calibration"):
            content["calibration"] = {k: v for k, v in content["calibration"].items()
                                      if k != "kept"}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def short_hash(self) -> str:
        return short_hash(self.content_hash())

    def fill_command(self) -> str:
        from hwnas.registry import SPACES

        name, config = self.space.get("name", "SPACE"), self.space.get("config", {})
        cls = SPACES.find(name)
        if cls is not None:  # a space read from a user's file names the file
            name, config = cls.command_words(config)
        options = "".join(f" --space-opt {shell_word(f'{k}={v}')}" for k, v in config.items())
        name = shell_word(name)
        profile = f"hwnas profile --space {name}{options} --backend {shell_word(self.backend)}"
        return f"hwnas tables fill {shell_word(self.path)}` or `{profile}" if self.path else profile

    def check_compatible(self, backend: str | None = None, batch: int | None = None,
                         dtype: str | None = None, device_slug: str | None = None,
                         allow: bool = False, why: str = "") -> list[str]:
        """Refuse a table measured under other conditions than asked, naming the difference
        (and `why` those conditions are asked, e.g. what re-times the table's predictions).

        With `allow`, return one warning per difference instead: the caller proceeds and says
        what it risks (latencies from one backend, batch, dtype or device do not transfer).
        """
        from profilers import device_slug as slug_of

        have = {"backend": self.backend, "batch": self.batch, "dtype": self.dtype,
                "device": slug_of(self.device)}
        asked = {"backend": backend, "batch": batch, "dtype": dtype, "device": device_slug}
        differences = [f"{name}={have[name]!r}, not {want!r}" for name, want in asked.items()
                       if want is not None and want != have[name]]
        if differences and not allow:
            raise BadInputError(f"latency table {self.path or ''} was measured with "
                                f"{'; '.join(differences)}{why}; profile one with "
                                f"`{self.fill_command()}` (or pass --allow-mismatch)")
        return [f"using a table measured with {d}: its latencies may not transfer "
                "(ranking and absolute values can both be off)" for d in differences]

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {"schema": SCHEMA, "units": self.units, "backend": self.backend,
               "batch": self.batch, "dtype": self.dtype, "threads": self.threads,
               "created": self.created, "device": self.device, "space": self.space,
               "entries": dict(sorted(self.entries.items())), "calibration": self.calibration}
        # absent, not null, so older tables write back as read (and keep their hash)
        if self.reference is not None:
            out["reference"] = self.reference
        if self.stat != DEFAULT_STAT:
            out["latency_stat"] = self.stat
        if self.machine is not None:
            out["machine"] = self.machine
        if self.quantization is not None:
            out["quantization"] = self.quantization
        return out

    def save(self, path: str | Path) -> Path:
        self.path = atomic_write_json(path, self.to_dict())
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        if not may_exist(path):
            raise BadInputError(f"latency table {path} does not exist; list tables with "
                                "`ls latency_tables/*/` or make one with `hwnas profile`")
        # A FIFO or device would block the read for ever: refused before it is opened.
        check_input_file(path, "latency table", "make one with `hwnas profile`")
        return cls.from_dict(read_json(path, f"latency table {path}"), path)

    @classmethod
    def from_dict(cls, raw: dict, path: Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(raw, dict) or "schema" not in raw:
            raise BadInputError(not_a_table(str(path) if path else "the JSON given", raw))
        if raw.get("schema") != SCHEMA:
            got = raw.get("schema")
            raise BadInputError(f"{where} has schema {got!r}; this hwnas reads schema {SCHEMA}")
        if raw.get("units") != "ms":
            raise BadInputError(f"{where} has units {raw.get('units')!r}; only 'ms' is allowed")
        for name in ("backend", "device", "entries"):
            if name not in raw:
                raise BadInputError(f"{where} lacks the field {name!r}")
        entries = raw["entries"]
        if not isinstance(entries, dict):
            raise BadInputError(f"{where}: 'entries' must be an object of op key -> stats")
        _check_header(where, raw)
        for key, entry in entries.items():
            _check_entry(where, key, entry)
        if raw.get("calibration") is not None:
            calibration.check(raw["calibration"], where)
            if raw["calibration"].get("residual") is not None:
                residual_model.check(raw["calibration"]["residual"], where)
        if raw.get("reference") is not None:
            _check_reference(where, raw["reference"])
        stat = raw.get("latency_stat", DEFAULT_STAT)
        if stat not in LATENCY_STATS:
            raise BadInputError(f"{where}: 'latency_stat' must be one of "
                                f"{', '.join(LATENCY_STATS)}; got {stat!r:.40}")
        if stat not in REQUIRED_STATS and any(stat not in e for e in entries.values()):
            raise BadInputError(f"{where} predicts in {stat} but not every entry has it")
        if raw.get("machine") is not None and not isinstance(raw["machine"], dict):
            raise BadInputError(f"{where}: 'machine' must be an object")
        _check_quantization(where, raw.get("dtype", "fp32"), raw.get("quantization"))
        return cls(stat=stat, machine=raw.get("machine"), backend=raw["backend"],
                   quantization=raw.get("quantization"),
                   device=raw["device"], batch=raw.get("batch", 1),
                   dtype=raw.get("dtype", "fp32"), threads=raw.get("threads"),
                   space=raw.get("space", {}), entries=entries,
                   calibration=raw.get("calibration"), reference=raw.get("reference"),
                   created=raw.get("created", ""), units="ms", path=path)


def short_hash(full: str) -> str:
    """The 12 hex digits a table's hash is shown with."""
    return full[:12]


def not_a_table(where: str, raw) -> str:
    """Why a JSON document without a schema is not a latency table, and where the table is
    when it names one (a run's config.json, a validation report)."""
    if isinstance(raw, dict) and isinstance(raw.get("search"), dict):
        used = (raw.get("table") or {}).get("path") or raw["search"].get("table")
        return (f"{where} is a run's configuration, not a latency table; "
                + (f"the run's table is {used}: `hwnas tables show {shell_word(used)}`" if used
                   else "that run used none (its costs came from its estimator)"))
    if isinstance(raw, dict) and isinstance(raw.get("table"), str) and "metrics" in raw:
        return (f"{where} is a validation report, not a latency table; the table it "
                f"validated is {raw['table']}: `hwnas tables show {shell_word(raw['table'])}`")
    return (f"{where} is not a latency table: it has no 'schema' field (a table written by "
            f"`hwnas profile` or `hwnas tables import` has schema {SCHEMA})")


def read_json(path: Path, what: str, hint: str = ""):
    """The JSON value in `path`, or one line saying why it cannot be read (and `hint`, the next
    step). Nesting deeper than Python's recursion limit is not a table (or a run config): it is
    refused, not a crash."""
    from hwnas.fileio import read_regular

    hint = f"; {hint}" if hint else ""
    try:
        return json.loads(read_regular(path).decode(), object_pairs_hook=unique_keys)
    except RecursionError:
        raise BadInputError(f"{what} is not readable JSON (nested too deeply){hint}") from None
    except DuplicateKey as exc:
        raise BadInputError(f"{what} names {exc.args[0]!r:.60} twice in one object: which one "
                            f"counts is not said (a JSON reader keeps either){hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{what} is not readable JSON "
                            f"({type(exc).__name__}: {exc}){hint}") from None


class DuplicateKey(ValueError):
    """A JSON object names one key twice; args[0] is the key."""


def unique_keys(pairs: list[tuple]) -> dict:
    """A JSON object whose keys are all distinct: a table holding an op's entry twice (a
    merge gone wrong, a hand edit) would otherwise keep the last one, silently."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


# The header fields a table's users read: wrong types would fail later, far from the file.
_HEADER_TYPES = {"backend": (str, "a str"), "device": (dict, "an object"),
                 "space": (dict, "an object"), "dtype": (str, "a str")}


def _check_header(where: str, raw: dict) -> None:
    for name, (kind, text) in _HEADER_TYPES.items():
        if name in raw and not isinstance(raw[name], kind):
            raise BadInputError(f"{where}: {name!r} must be {text}; got {raw[name]!r}")
    for name, value, none_ok in (("batch", raw.get("batch", 1), False),
                                 ("threads", raw.get("threads"), True)):
        if value is None and none_ok:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInputError(f"{where}: {name!r} must be an int >= 1; got {value!r}")


def _check_quantization(where: str, dtype: str, quantization) -> None:
    """An int8 table names the settings it was quantized with; no other table has any. (The
    values are checked where they are used to quantize again, hwnas.tables.backend_model.)"""
    if dtype == "int8" and not isinstance(quantization, dict):
        raise BadInputError(f"{where} is int8 but has no 'quantization' object (the settings "
                            "its ops were quantized with); profile it again with `hwnas "
                            "profile --dtype int8`")
    if dtype != "int8" and quantization is not None:
        raise BadInputError(f"{where} is {dtype} but has a 'quantization' object; only an "
                            "int8 table has one")


def _check_entry(where: str, key: str, entry) -> None:
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: entry {key!r} must be an object with "
                            f"{', '.join(REQUIRED_STATS)}")
    # cost columns and the low end of the distribution (p0, p10: tables made before kept
    # neither) are optional but, when present, checked alike
    optional = [c for c in ("peak_mem_mb", "energy_mj", "p0", "p10") if c in entry]
    for stat in ("p50", "p90", "mean", "std", "n", *optional):
        value = entry.get(stat)
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value) or not 0 <= value <= MAX_COST:
            # MAX_COST: a network sums its ops, and 1e308 ms would overflow to inf
            raise BadInputError(f"{where}: entry {key!r} has {stat}={value!r}; "
                                f"must be a finite number in [0, {MAX_COST:g}]")


def _check_reference(where: str, ref) -> None:
    """The reference workload: an op signature and a positive finite time."""
    ms = ref.get("ms") if isinstance(ref, dict) else None
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not math.isfinite(ms) \
            or not 0 < ms <= MAX_COST or not isinstance(ref.get("op"), dict):
        raise BadInputError(f"{where}: 'reference' must be an object with an 'op' signature and "
                            f"a time 'ms' > 0; got {ref!r:.80}; re-run `hwnas tables calibrate`")
    try:
        OpSignature.from_dict(ref["op"])
    except (TypeError, ValueError, BadInputError):
        raise BadInputError(f"{where}: 'reference' has a malformed op {ref['op']!r:.80}; re-run "
                            "`hwnas tables calibrate`") from None
