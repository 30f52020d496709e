"""Bounds on numbers a user gives, declared once: the command line, configs and loaders read
them from here, so a value is refused in one line where it is first read instead of failing
(or running for ever) somewhere downstream.
"""

from __future__ import annotations

# Candidates of one search (and evaluations of one league run). Ten million lookups take hours
# even on a tabular benchmark; 2**63 is a typo, and a loop that never ends.
MAX_BUDGET = 10**7

# Seeds feed numpy, torch and every strategy; torch.manual_seed and several samplers refuse
# (or wrap) values beyond 32 bits, so a larger seed would not reproduce the run it names.
MAX_SEED = 2**32 - 1

# One latency (ms), energy (mJ) or memory (MB) value of a table entry or benchmark row. A
# value above is a unit or file error, and sums and hypervolumes of such values overflow to inf.
MAX_COST = 1e9

# Threads of a backend or a training. More than any machine has cores is a typo: 100000 asks
# the runtime for 100000 threads, and the process is killed for memory before measuring.
MAX_THREADS = 1024

# Batch size of a latency table. One op's activations grow with it: a batch of a million is
# killed for memory at the first op, after the backend has started.
MAX_BATCH = 4096

# A population, beam or surrogate training set of one strategy. pymoo's duplicate elimination
# and a GP hold matrices of its square: 10,000 is 800 MB; a million asked for 7 TiB and died.
MAX_POPULATION = 10_000

# Shapes of a space: a network's activations grow with resolution squared times channels.
# 1024x1024 inputs, 4,096 channels and 100,000 classes are beyond any space hwnas ships for,
# and far below what is killed for memory before the first op.
MAX_RESOLUTION = 1024
MAX_CHANNELS = 4096
MAX_CLASSES = 100_000
MAX_CELLS = 64

# Passes over the networks of a calibration or validation (each network's median kept). Each
# pass re-times every network: 99 passes of 100 networks is hours, more is a typo.
MAX_ROUNDS = 99
# ... and how many by default (hwnas.tables.validate.measure_rounds): the fewest whose median
# drops one burst-hit measurement; each pass adds the whole run's time again.
DEFAULT_ROUNDS = 3

# Epochs of any training (a candidate, a supernet, a final network). CIFAR-10 papers train
# 200-600; 10,000 is weeks of any of hwnas's spaces, 10**9 a typo that never ends.
MAX_EPOCHS = 10_000

# Steps, generations, retries and pools of a strategy's own loop (controller updates, SPOS
# generations, MOBO's random candidates per step). A million of any is hours of the
# strategy's own work before a candidate is proposed; more is a typo.
MAX_STEPS = 10**6

# Images of a training subset: more than any dataset hwnas loads (ImageNet has 1.3 million);
# a subset larger than the dataset is the whole dataset.
MAX_SUBSET = 10**8
