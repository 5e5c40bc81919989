"""Witnessing: the national log of school checkpoints, asking independent witnesses to cosign its heads, and
the k-of-n policy that says when a head counts as witnessed (c2sp.org/tlog-witness)."""
