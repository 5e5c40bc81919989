"""C2SP transparency-log formats: signed notes, checkpoints, Ed25519 cosignatures, RFC 6962 proof checks.

Pure functions over bytes and text, importing nothing of ours, so both the service (wallet/) and the
independent witness program (witness/) use one implementation of the wire formats and neither depends on
the other. Specs: c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature.
"""
