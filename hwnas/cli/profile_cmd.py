"""`hwnas profile`: measure every distinct op of a space into a latency table."""

from __future__ import annotations

import click

from hwnas import api
from hwnas.cli import options
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.limits import MAX_BATCH
from hwnas.quoting import shell_word

# Every dtype some backend times; which backend has which is its `supported_dtypes`, and
# another pairing is refused in one line naming the backends that have it (make_backend).
DTYPES = ("fp32", "fp16", "int8")


@click.command()
@options.space
@options.space_opt
@options.backend()
@options.threads
@click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=1, show_default=True,
              help="Batch size of the table.")
@click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True,
              help="fp16 on GPU backends; int8 on ort-cpu (static QDQ quantization, per-channel "
                   "int8 weights, uint8 activations; the table records the settings).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Table path (default: latency_tables/<device>/<space>-<backend>-....json).")
@click.option("--force", is_flag=True,
              help="Replace a table that exists at the destination (and remove the validation "
                   "report beside it); without it, an existing table is never overwritten.")
@click.option("--bundle", type=click.Path(dir_okay=False), default=None,
              help="Measure nothing: write every unique op as ONNX into this zip, for "
                   "`python -m profilers measure` on a remote device.")
@click.option("--memory", is_flag=True,
              help="Also measure each op's peak activation memory (column peak_mem_mb).")
@click.option("--energy", is_flag=True,
              help="Also measure each op's energy per inference, >= 1 s per op (column "
                   "energy_mj; NVML on NVIDIA GPUs, RAPL on CPUs).")
@click.option("--ray-resource", default=None, metavar="NAME",
              help="Measure on the Ray node that carries this custom resource, e.g. "
                   "device:jetson (needs hwnas[distributed]); the table is written here.")
@click.option("--ray-address", default=None, metavar="HOST:PORT",
              help="With --ray-resource: the Ray cluster (default: the one `ray start` runs "
                   "on this machine).")
@click.option("--latency-stat", type=click.Choice(["p0", "p10", "p50", "p90"]), default=None,
              help="The statistic the table predicts in (default: chosen by measuring how "
                   "this machine repeats itself: p50 where medians repeat, else the low end "
                   "that repeats best). p0/p10 rank networks on a machine with neighbours; "
                   "p50/p90 are what users feel on a dedicated device.")
@options.as_json
def profile(space, space_opt, backend, threads, batch, dtype, out, force, bundle, memory,
            energy, ray_resource, ray_address, latency_stat, as_json):
    """Measure each unique op of a space on a backend and write a LatencyTable JSON.

    With --bundle, export the ops for a remote device instead of measuring them here; with
    --ray-resource, measure them on the Ray node that carries that resource.

    \b
    Examples:
      hwnas profile --space proxyless --backend ort-cpu --threads 1
      hwnas profile --space nb201 --backend torch-cpu --batch 8 -o nb201-b8.json
      hwnas profile --space proxyless --backend ort-cpu --threads 1 --force   # replace it
      hwnas profile --space proxyless --bundle ops.zip
    """
    _check_ray_flags(ray_resource, ray_address, bundle)
    if bundle:
        _write_bundle(space, space_opt, threads, batch, dtype, out or force, bundle, as_json)
        return
    where = f"the Ray node with {ray_resource}" if ray_resource else backend
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"profiling {space} on {where}", total=None, info="")

        def on_op(event: dict) -> None:
            if event["event"] == "machine":  # the statistic and threads, and why (before
                if not as_json:  # the bar starts: it is drawn from its first update on)
                    console.print(event["line"])
                return
            bar.update(task, total=event["total"], completed=event["index"] + 1,
                       info=f"{event['key']}  {event['stat']} {event['ms']:.3f} ms")

        table = api.profile(*options.space_and_options(space, space_opt), backend,
                            threads=threads, batch=batch, dtype=dtype, out=out, progress=on_op,
                            memory=memory, energy=energy, ray_resource=ray_resource,
                            ray_address=ray_address or "", force=force,
                            latency_stat=latency_stat)
    total = sum(e[table.stat] for e in table.entries.values())
    if as_json:
        print_json({"path": str(table.path), "hash": table.content_hash(),
                    "entries": len(table.entries), "latency_stat": table.stat,
                    "threads": table.threads, "machine": table.machine,
                    f"sum_{table.stat}_ms": total, "backend": table.backend,
                    "device": table.device})
        return
    threads_text = "threads unpinned" if table.threads is None else \
        f"{table.threads} thread{'s' if table.threads != 1 else ''}"
    console.print(f"wrote {table.path}: {len(table.entries)} ops on {table.backend} "
                  f"(batch {table.batch}, {table.dtype}, {threads_text}); predicts in "
                  f"{table.stat}, sum of {table.stat} = {total:.2f} ms; hash "
                  f"{table.short_hash()}")
    if table.reference and table.reference.get("drift"):  # the machine's speed while profiling
        from hwnas.latency.drift import describe_drift

        console.print(describe_drift(table.reference["drift"]))
    console.print(f"next: hwnas search --space {space} --table {shell_word(table.path)}")


def _check_ray_flags(ray_resource, ray_address, bundle) -> None:
    """--ray-address only places a measurement; --bundle measures nothing: refuse what would
    silently do nothing, before anything is built."""
    from hwnas.errors import BadInputError

    if ray_address is not None and ray_resource is None:
        raise BadInputError("--ray-address applies only with --ray-resource NAME (the custom "
                            "resource of the node to measure on, e.g. device:jetson)")
    if ray_resource is not None and bundle:
        raise BadInputError("--bundle measures nothing, so --ray-resource does not apply; "
                            "drop one of them")
    if ray_resource is not None and not ray_resource.strip():
        raise BadInputError("--ray-resource needs a resource name, e.g. device:jetson")
    if ray_address is not None:
        from hwnas.distributed.session import ADDRESS_HELP, address_is_valid

        if not ray_address or not address_is_valid(ray_address):
            raise BadInputError(f"--ray-address must be {ADDRESS_HELP.split(', ', 1)[1]}; got "
                                f"{ray_address!r}")


def _write_bundle(space, space_opt, threads, batch, dtype, out, bundle, as_json) -> None:
    from hwnas.errors import BadInputError

    # The device chooses its own threads and writes the table: refuse options that would
    # silently do nothing here.
    if out or threads:
        raise BadInputError("--bundle measures nothing here, so --out/--force/--threads do not "
                            "apply; pass -o and --threads on the device: `python -m profilers "
                            f"measure {bundle} --threads N -o table.json`")
    with progress_bar(quiet=as_json) as bar:
        task = bar.add_task(f"exporting {space} ops", total=None, info="")
        manifest = api.profile_bundle(
            *options.space_and_options(space, space_opt), bundle, batch=batch, dtype=dtype,
            progress=lambda e: bar.update(task, total=e["total"], completed=e["index"] + 1,
                                          info=e["key"]))
    if as_json:
        print_json({"bundle": str(bundle), "ops": len(manifest["ops"]),
                    "space": manifest["space"], "batch": batch, "dtype": dtype})
        return
    console.print(f"wrote {bundle}: {len(manifest['ops'])} ops of {space} as ONNX "
                  f"(batch {batch}, {dtype})")
    console.print(f"next, on the device: python -m profilers measure {bundle} --backend ort-cpu "
                  "-o table.json; then here: hwnas tables import table.json")
