"""The witness: a program an independent body runs on its own machine (c2sp.org/tlog-witness).

It keeps, per log, the last checkpoint it cosigned, and cosigns a new one only when a consistency proof
shows it extends that one; so it never cosigns two different roots for one size, even after kill -9.
It talks HTTP only and imports nothing from wallet/, api/ or cli/ (an import-linter contract holds it);
the wire formats come from tlog/.
"""
