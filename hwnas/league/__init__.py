"""`hwnas bench`: strategies × seeds on a tabular benchmark, scored against its true front."""
