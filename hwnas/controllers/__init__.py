"""Learned controllers of the RL strategies (torch, imported only when a strategy builds one)."""
