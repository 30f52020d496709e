"""`hwnas train`: final training of a run's candidate at the configuration it is deployed at."""

from __future__ import annotations

import click
from rich.markup import escape

from hwnas.cli import options
from hwnas.cli.errors import Interrupted
from hwnas.cli.render import console, print_json, progress_bar
from hwnas.quoting import command, printable, shell_word


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--pick", multiple=True, help="Constraint such as 'latency_ms<=3' (repeatable); "
              "the most accurate candidate meeting all is trained.")
@click.option("--arch", default=None, help="Architecture key (or unique prefix).")
@click.option("--preset", type=click.Choice(["paper", "fast"]), default="paper",
              show_default=True,
              help="paper: 30 epochs (converged on digits); fast: 10, for a first try.")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=None,
              help="Epochs (wins over --preset; CIFAR-10 papers train 200-600).")
@click.option("--lr", type=float, default=None, help="Base learning rate (default 0.1; "
              "SGD with Nesterov momentum, cosine decay to 0).")
@click.option("--batch-size", type=click.IntRange(2, 65_536), default=None,
              help="Batch size (default 64).")
@click.option("--no-augment", is_flag=True, help="Train without random crops and mirrors.")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="Torch threads (default 1: the result then repeats bit for bit, also "
                   "after a resume).")
@click.option("--seed", type=options.SEED, default=None,
              help="Seed of weight init, shuffling and augmentation (default: the run's).")
@click.option("--force", is_flag=True,
              help="Train again from scratch, replacing a finished or different training.")
@options.as_json
def train(run, pick, arch, preset, epochs, lr, batch_size, no_augment, threads, seed, force,
          as_json):
    """Train a candidate (default: the knee of the front) fully, at its deploy resolution.

    The search scored candidates with a proxy (few epochs, maybe a subset, maybe a lower
    resolution). This trains the chosen network with the full recipe on the training split,
    at the space's resolution (what the table timed and `hwnas export` writes), and reports
    its accuracy on the held-out test split that no search sees. A checkpoint is written after
    every epoch: the same command resumes an interrupted training, with the same result as an
    uninterrupted one. Writes RUN/trained/<key>/.

    \b
    Examples:
      hwnas train runs/<run> --pick "latency_ms<=3"
      hwnas train runs/<run> --arch 3f2a --preset fast
      hwnas train runs/<run> --arch 3f2a --epochs 200 --threads 2
    """
    from hwnas.api import train as job
    from hwnas.errors import BadInputError

    if arch and pick:
        raise BadInputError("--arch and --pick both choose the candidate to train; give one: "
                            f"`hwnas train {shell_word(run)} --arch KEY` or `hwnas train "
                            f"{shell_word(run)} --pick 'latency_ms<=3'`")
    planned = job.plan(run, pick=list(pick), arch_key=arch, preset=preset, force=force,
                       epochs=epochs, lr=lr, batch_size=batch_size, threads=threads, seed=seed,
                       augment=False if no_augment else None)
    result = run_training(planned, quiet=as_json)
    if as_json:
        print_json(result)
        return
    render_training(planned, result)


def run_training(planned: dict, quiet: bool = False) -> dict:
    """Train what `plan` planned under a progress bar (epochs, ETA, loss and validation
    accuracy); Ctrl-C says how to resume."""
    from hwnas.api import train as job

    key = planned["record"]["arch_key"]
    epochs = planned["identity"]["recipe"]["epochs"]
    with progress_bar(quiet=quiet) as bar:
        task = bar.add_task(f"final training {key}", total=epochs, info="")

        def on_event(event: dict) -> None:
            if event.get("event") == "notice":
                click.echo(printable(f"hwnas: note: {event['summary']}"), err=True)
            elif event.get("event") == "start":
                bar.update(task, completed=event["epoch"], info="")
            elif event.get("event") == "epoch":
                bar.update(task, completed=event["epoch"],
                           info=f"loss {event['train_loss']:.3f}  val {event['val_accuracy']:.3f}")

        try:
            return job.train(planned["run"].path, planned=planned, progress=on_event)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; the epochs finished so far are saved: resume with "
                              f"`{resume_command(planned)}`") from None


def resume_command(planned: dict) -> str:
    """The command that resumes this training: every recipe value spelled out, since a
    resume must match the recipe (a different one is refused)."""
    run = shell_word(planned["run"].path)
    r = planned["identity"]["recipe"]
    flags = (f"--epochs {r['epochs']} --lr {r['lr']:g} --batch-size {r['batch_size']} "
             f"--threads {r['threads']} --seed {r['seed']}" + ("" if r["augment"] else
                                                               " --no-augment"))
    return f"hwnas train {run} --arch {shell_word(planned['record']['arch_key'])} {flags}"


def render_training(planned: dict, result: dict) -> None:
    recipe = planned["identity"]["recipe"]
    res = result["resolution"]
    verb = {"done": "already trained", "resume": "trained (resumed)", "new": "trained"}
    console.print(f"{verb[result['state']]} {result['arch_key']} at {res}x{res}: "
                  f"{recipe['epochs']} epochs, lr {recipe['lr']:g}, batch {recipe['batch_size']}"
                  f", augmentation {'on' if recipe['augment'] else 'off'}, "
                  f"{result['seconds']:.0f} s of training")
    console.print(f"  accuracy on the held-out test split ({result['test_size']} images no "
                  f"search saw): {result['test_accuracy']:.4f}")
    proxy = result.get("proxy") or {}
    line = f"  validation accuracy (the split the search scored on): {result['val_accuracy']:.4f}"
    if proxy.get("accuracy") is not None:
        line += f"; the search's proxy: {proxy['accuracy']:.4f} ({escape(proxy['how'])})"
    console.print(line)
    console.print(f"  written to {escape(result['folder'])}")
    export = command("hwnas", "export", planned["run"].path, "--arch", result["arch_key"])
    console.print(escape(f"next: {export} -o model.onnx"))
