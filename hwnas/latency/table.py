"""LatencyTable: measured per-op latency on one device/backend, as schema-versioned JSON.

The prediction for a network is the sum of its ops' entries (p50 by default). Loading checks
schema, units and values; using a table for another backend, batch or dtype is an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hwnas.errors import BadInputError, MissingLatencyError
from hwnas.fileio import atomic_write_json
from hwnas.latency import calibration
from hwnas.ops import OpSignature

SCHEMA = 1
STATS = ("p50", "p90", "mean", "std")


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
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(
        timespec="seconds"))
    units: str = "ms"
    path: Path | None = None

    # -- lookups ----------------------------------------------------------------------------
    def missing(self, sigs: Iterable[OpSignature]) -> list[str]:
        return sorted({s.key for s in sigs if s.key not in self.entries})

    def lookup(self, sig: OpSignature, stat: str = "p50") -> float:
        if stat not in STATS:
            raise BadInputError(f"unknown latency statistic {stat!r}; allowed: {', '.join(STATS)}")
        entry = self.entries.get(sig.key)
        if entry is None:
            raise MissingLatencyError([sig.key], self.path, self.fill_command())
        return float(entry[stat])

    def predict_ops(self, sigs: list[OpSignature], stat: str = "p50",
                    calibrated: bool = True) -> float:
        """The table's prediction for the whole network, in ms: the calibrated sum of the ops'
        entries when the table carries a calibration, else the plain sum."""
        if stat not in STATS:
            raise BadInputError(f"unknown latency statistic {stat!r}; allowed: {', '.join(STATS)}")
        missing = self.missing(sigs)
        if missing:
            raise MissingLatencyError(missing, self.path, self.fill_command())
        if calibrated and self.calibration:
            return calibration.apply(self.calibration, sigs, self.entries, stat)
        return sum(float(self.entries[s.key][stat]) for s in sigs)

    def fill_command(self) -> str:
        name = self.space.get("name", "SPACE")
        options = "".join(f" --space-opt {k}={v}" for k, v in self.space.get("config", {}).items())
        profile = f"hwnas profile --space {name}{options} --backend {self.backend}"
        return f"hwnas tables fill {self.path}` or `{profile}" if self.path else profile

    def check_compatible(self, backend: str | None = None, batch: int | None = None,
                         dtype: str | None = None, device_slug: str | None = None,
                         allow: bool = False) -> list[str]:
        """Refuse a table measured under other conditions than asked, naming the difference.

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
                                f"{'; '.join(differences)}; profile one with "
                                f"`{self.fill_command()}` (or pass --allow-mismatch)")
        return [f"using a table measured with {d}: its latencies may not transfer "
                "(ranking and absolute values can both be off)" for d in differences]

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "units": self.units, "backend": self.backend,
                "batch": self.batch, "dtype": self.dtype, "threads": self.threads,
                "created": self.created, "device": self.device, "space": self.space,
                "entries": dict(sorted(self.entries.items())), "calibration": self.calibration}

    def save(self, path: str | Path) -> Path:
        self.path = atomic_write_json(path, self.to_dict())
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise BadInputError(f"latency table {path} does not exist; list tables with "
                                "`ls latency_tables/*/` or make one with `hwnas profile`") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"latency table {path} is not readable JSON "
                                f"({type(exc).__name__}: {exc})") from None
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: dict, path: Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
            got = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
            raise BadInputError(f"{where} has schema {got!r}; this hwnas reads schema {SCHEMA}")
        if raw.get("units") != "ms":
            raise BadInputError(f"{where} has units {raw.get('units')!r}; only 'ms' is allowed")
        for name in ("backend", "device", "entries"):
            if name not in raw:
                raise BadInputError(f"{where} lacks the field {name!r}")
        entries = raw["entries"]
        if not isinstance(entries, dict):
            raise BadInputError(f"{where}: 'entries' must be an object of op key -> stats")
        for key, entry in entries.items():
            _check_entry(where, key, entry)
        if raw.get("calibration") is not None:
            calibration.check(raw["calibration"], where)
        return cls(backend=raw["backend"], device=raw["device"], batch=int(raw.get("batch", 1)),
                   dtype=raw.get("dtype", "fp32"), threads=raw.get("threads"),
                   space=raw.get("space", {}), entries=entries,
                   calibration=raw.get("calibration"), created=raw.get("created", ""),
                   units="ms", path=path)


def _check_entry(where: str, key: str, entry) -> None:
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: entry {key!r} must be an object with {', '.join(STATS)}")
    # cost columns are optional (absent unless measured) but, when present, checked alike
    costs = [c for c in ("peak_mem_mb", "energy_mj") if c in entry]
    for stat in ("p50", "p90", "mean", "std", "n", *costs):
        value = entry.get(stat)
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value) or value < 0:
            raise BadInputError(f"{where}: entry {key!r} has {stat}={value!r}; "
                                "must be a finite number >= 0")
