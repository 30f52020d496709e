"""Reading runs: Pareto fronts and hypervolume (pymoo), plots, picking one candidate."""
