"""`enas`: Efficient NAS via parameter sharing (Pham et al., 2018).

The controller is `reinforce`'s (hwnas.strategies.reinforce: the autoregressive LSTM, logits
C*tanh(z/T), moving-average baseline, entropy bonus, Adam; its rewards from hwnas.rewards);
what ENAS adds is that a candidate's reward is measured with weights shared by every candidate
(one supernet, hwnas.oneshot.supernet) instead of training it. Inside the first `ask`, for
`epochs` epochs:

1. shared weights: one pass over the weight split of the training images; each minibatch runs
   ONE architecture sampled from the current policy pi(theta), and one SGD step updates that
   path's weights only (hwnas.oneshot.single_path);
2. controller: `controller_steps` policy-gradient steps, each on one architecture sampled from
   pi(theta) and rewarded with its accuracy on one minibatch of the held-out split with the
   shared weights (hwnas.oneshot.single_path.minibatch_accuracy), combined with the cost
   model's costs (the latency table) by the run's `reward` option exactly as `reinforce`
   combines them (`Reinforce.learn`).

Then `final_samples` architectures are sampled from the trained policy, scored with the shared
weights on the whole held-out split (BatchNorm statistics re-estimated per candidate), ranked
by the same reward, and the best `top` are proposed, one per `ask`, to the run's final
estimator. Per epoch the mean reward, baseline, policy entropy and shared-weight accuracies go
to `strategy/log.json` (hwnas.strategies.weight_sharing: files and resume).

Defaults follow ENAS where it gives one: Adam lr 3.5e-4, tanh constant 2.5, entropy weight
1e-4, baseline decay 0.99, shared weights by SGD (Nesterov) with a cosine schedule (ENAS: lr
0.05). ENAS runs 2000 controller steps per epoch over 150-310 epochs on CIFAR-10; the defaults
here (20 steps, 5 epochs, 20 final samples) are sized for the digits dataset on 2 CPU cores.
The baseline starts at the first reward and the entropy bonus is the exact policy entropy, as
in `reinforce` (its docstring says why). `update=ppo` trains the controller with PPO's clipped
surrogate instead (NASNet's controller update, hwnas.controllers.ppo): each controller step's
architecture, just drawn, is its batch, so its first epoch starts at ratio 1.

Hard limits (`--constraint`): through the reward, as `reinforce` (hwnas.rewards: a path past a
limit on a cost known before training is rewarded below the floor, by how far past), and the
final samples are drawn within the known limits (a sample past one is drawn again, up to
`FINAL_TRIES` times), ranked, and only those within the limits proposed.
"""

from __future__ import annotations

from hwnas.errors import HwnasRuntimeError
from hwnas.limits import MAX_BATCH, MAX_POPULATION, MAX_STEPS
from hwnas.options import Option, option_error
from hwnas.registry import STRATEGIES
from hwnas.rewards import Rewarder
from hwnas.strategies.reinforce import Reinforce
from hwnas.strategies.weight_sharing import SUPERNET_OPTIONS, WeightSharingSearch

FINAL_TRIES = 20  # draws per final sample while they break a known limit


@STRATEGIES.register("enas")
class ENAS(WeightSharingSearch, Reinforce):
    """ENAS: reinforce's LSTM controller rewarded with a shared supernet's accuracy."""

    plot_style = {"color": "#7b4173", "marker": "8"}

    option_specs = {
        **Reinforce.option_specs,
        "controller_lr": Option(3.5e-4, float, low=0, low_open=True, old_names=("lr",),
                                help="controller Adam (ENAS 3.5e-4)"),
        **SUPERNET_OPTIONS,
        "controller_steps": Option(20, int, low=1, high=MAX_STEPS,
                                   help="controller updates per epoch (ENAS: 2000)"),
        "reward_batch": Option(64, int, low=2, high=MAX_BATCH,
                               help="held-out minibatch that rewards one controller step"),
        "final_samples": Option(20, int, low=1, high=MAX_POPULATION,
                                help="architectures sampled from the trained policy and ranked"),
    }

    @classmethod
    def check_options(cls, resolved: dict) -> None:
        super().check_options(resolved)
        if resolved["top"] > resolved["final_samples"]:
            raise option_error("top", cls.owner(),
                               f"<= final_samples ({resolved['final_samples']})", resolved["top"])

    # -- the search ---------------------------------------------------------------------------
    def _search(self) -> tuple[list[dict], dict]:
        import torch

        from hwnas.nn import train as nt
        from hwnas.oneshot.single_path import Minibatches, SinglePathTrainer, calibration_batches
        from hwnas.oneshot.supernet import Supernet

        o = self.options
        wx, wy, ax, ay = self._split_data()
        device = torch.device(o["device"])
        epochs = []
        with nt.torch_threads(o["threads"]), nt.forked_rng(device), \
                nt.deterministic_cudnn(device):
            torch.manual_seed(self.seed)  # the supernet's weight init
            supernet = Supernet(self.space, o["supernet_weights"], o["kernel_transform"]).to(device)
            trainer = SinglePathTrainer(supernet, self._train_config(), len(wy),
                                        torch.Generator().manual_seed(self.seed))
            held = Minibatches(len(ay), o["reward_batch"],
                               torch.Generator().manual_seed(self.seed + 1))
            for epoch in range(o["epochs"]):
                weights = self._phase_weights(trainer, wx, wy)
                if weights.diverged:
                    raise HwnasRuntimeError(
                        f"enas: the shared weights diverged (loss {weights.loss} in epoch "
                        f"{epoch + 1}); lower --strategy-opt lr")
                steps = self._phase_controller(supernet, ax, ay, held)
                entry = {"epoch": epoch, "train_loss": weights.loss,
                         "train_acc": weights.accuracy, **_summarise(steps)}
                epochs.append(entry)
                self._report(f"epoch {epoch + 1}/{o['epochs']}: shared weights loss "
                             f"{weights.loss:.3f} acc {weights.accuracy:.3f}; controller "
                             f"reward {entry['mean_reward']:.3f} baseline "
                             f"{entry['baseline']:.3f} entropy {entry['entropy']:.3f} "
                             f"val-minibatch acc {entry['shared_accuracy']:.3f}", epoch=epoch)
            calib = calibration_batches(wx, o["batch_size"], o["bn_batches"], self.seed)
            ranked = self._rank(supernet, calib, ax, ay)
        return self._proposable(ranked)[:o["top"]], {"epochs": epochs, "ranked": ranked}

    def _first_then_policy(self, arch):
        """A draw for `draw_feasible`: `arch` first, then fresh samples from the policy."""
        drawn = [arch]
        return lambda: drawn.pop() if drawn else self._sample(1)[0]

    def _sample(self, n: int):
        """n architectures from the current policy (the controller on one thread)."""
        with self._one_thread():
            rows = self.controller.sample(n, self.generator)
        return [self.space.decode(row) for row in rows]

    def _phase_weights(self, trainer, x, y):
        """Phase 1: one pass over the weight split, each minibatch on one sampled path."""
        supernet = trainer.supernet
        return trainer.epoch(x, y, lambda: supernet.indices(self._sample(1)[0]))

    def _phase_controller(self, supernet, x, y, held) -> list[dict]:
        """Phase 2: `controller_steps` REINFORCE steps rewarded on held-out minibatches."""
        import torch

        steps = []
        for _ in range(self.options["controller_steps"]):
            arch = self._sample(1)[0]
            accuracy = self._shared_accuracy(supernet, arch, x, y, held.next())
            rewards = self.learn([arch], [self._objectives_of(arch, accuracy)])
            with self._one_thread(), torch.no_grad():
                _, entropy, _ = self.controller.evaluate(self.space.encode(arch)[None, :])
            steps.append({"reward": float(rewards[0]), "accuracy": accuracy,
                          "baseline": float(self.baseline),
                          "entropy": float(entropy[0]) / len(self._choices)})
        return steps

    @staticmethod
    def _shared_accuracy(supernet, arch, x, y, idx) -> float:
        from hwnas.oneshot.single_path import minibatch_accuracy

        return minibatch_accuracy(supernet, arch, x[idx], y[idx])

    def _rank(self, supernet, calib, x, y) -> list[dict]:
        """The trained policy's samples, each scored once on the whole held-out split, best
        reward first (ties: the order sampled)."""
        from hwnas.oneshot.single_path import inherited_accuracy

        counts: dict[str, int] = {}
        archs = []
        for arch in self._sample(self.options["final_samples"]):
            if self.known_limits:
                arch = self.draw_feasible(self._first_then_policy(arch), FINAL_TRIES)
            if arch.key not in counts:
                archs.append(arch)
            counts[arch.key] = counts.get(arch.key, 0) + 1
        results = [self._objectives_of(a, inherited_accuracy(supernet, a, calib, x, y))
                   for a in archs]
        # A reward of its own, normalised over these candidates only (not over the minibatch
        # accuracies of the controller's training).
        rewarder = Rewarder(self.objectives, self.options, space=self.space, costs=self.costs,
                            seed=self.seed)
        rewarder.observe(results)
        scored = [{"arch": a.to_dict(), "shared_accuracy": r["accuracy"],
                   "reward": rewarder(r), "objectives": r, "sampled": counts[a.key]}
                  for a, r in zip(archs, results, strict=True)]
        return sorted(scored, key=lambda s: -s["reward"])


def _summarise(steps: list[dict]) -> dict:
    n = max(1, len(steps))
    return {"mean_reward": sum(s["reward"] for s in steps) / n,
            "baseline": steps[-1]["baseline"] if steps else None,
            "entropy": sum(s["entropy"] for s in steps) / n,
            "shared_accuracy": sum(s["accuracy"] for s in steps) / n,
            "controller_steps": len(steps)}
