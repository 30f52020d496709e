"""Running hwnas's units of work on a Ray cluster (the optional `distributed` extra).

`session` starts or joins Ray for one job and says what it started; `worker` is what runs
inside a Ray worker process (a scorer rebuilt from plain data, cached per process);
`placement` runs one callable on the node that carries a named custom resource (the device to
measure on). Ray itself is imported only inside functions: `import hwnas.distributed` and
everything that merely lists plug-ins stays free of it.
"""
