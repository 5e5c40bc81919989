"""Social Wallet meal ledger: the domain (models, rules, ledger, services).

This package never imports Flask, marshmallow or PyJWT; the web layer lives in `api/`.
"""
