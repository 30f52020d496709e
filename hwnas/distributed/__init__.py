"""Running hwnas's units of work on a Ray cluster (the optional `distributed` extra).

`session` starts or joins Ray for one job and says what it started; `placement` runs one
callable on the node that carries a named custom resource (the device to measure on). Ray
itself is imported only inside functions: `import hwnas.distributed` and everything that
merely lists plug-ins stays free of it.

What runs inside a Ray worker process for the `ray` evaluator (a scorer rebuilt from plain
data, cached per process) is the evaluator's own (hwnas.evaluation.evaluators.ray_worker):
this package imports no hwnas package but `errors`, so evaluation may use it.
"""
