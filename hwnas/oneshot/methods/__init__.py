"""One module per gradient-based method: a `OneShotMethod` subclass with its steps."""
