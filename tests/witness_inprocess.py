"""Witnesses run in this process (the witness package's own protocol code over a temporary state dir), as
`post` callables for wallet.witnessing.collect: quick tests of the service side without HTTP."""

from __future__ import annotations

from pathlib import Path

import requests

from wallet.witness_settings import WitnessPolicy, WitnessSpec
from witness import config as witness_config
from witness.protocol import AddError, add_checkpoint
from witness.state import StateStore


class InProcessWitnesses:
    def __init__(self, tmp: Path, origin: str, log_vkey: str, n: int = 3, quorum: int = 2) -> None:
        self.configs = []
        for i in range(n):
            directory = tmp / f"w{i}"
            witness_config.init_dir(directory, f"witness.test/w{i}")
            witness_config.add_log(directory, origin, log_vkey)
            self.configs.append(witness_config.load(directory))
        self.down: set[str] = set()
        self.policy = WitnessPolicy(origin, tuple(WitnessSpec(f"http://w{i}.test", c.cosigner.verifier)
                                                  for i, c in enumerate(self.configs)), quorum, 1)

    def post(self, url: str, body: bytes, timeout: float) -> tuple[int, str]:
        index = int(url.split("//w")[1].split(".")[0])
        config = self.configs[index]
        if config.cosigner.name in self.down:
            raise requests.ConnectionError("down")
        try:
            return 200, add_checkpoint(config, StateStore(config.directory), body)
        except AddError as exc:
            return exc.status, exc.body
