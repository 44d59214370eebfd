"""Pure signal processing on numpy arrays (never torch): effects, chains, signals, latency."""
