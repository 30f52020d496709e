"""Search strategies (ask/tell); each module registers itself. `base` is the contract;
`rewarded`, `oneshot` (a gradient-based method as a strategy) and `weight_sharing` (a search
over one supernet inside `ask`) are the bases the others build on."""
