"""Sample-based search strategies (ask/tell); each module registers itself."""
