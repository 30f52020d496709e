"""`hwnas report`: one self-contained HTML page about one or several runs.

`collect` reads runs into plain data (fronts, knees, hypervolume over evaluations, the latency
table's validation summary), `figures` draws them (hwnas.analysis.plots) into PNG bytes, `html`
lays the page out. `hwnas.api.report` checks the inputs and writes the file.
"""
