"""The torch modules the spaces build their ops from (imported when a network is built, never
when the spaces are listed)."""
