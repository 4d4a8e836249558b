"""Long-running background work that reports progress (one-shot work uses desktop.ops.Op)."""
