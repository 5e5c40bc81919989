"""A deterministic demo world (schools, pupils, parents, contracts, calendar, menus) as importable CSV files.

See wallet.demo.generator for what is generated and why its IINs belong to no real person (serial 0000).
"""

from wallet.demo.generator import KINDS, MAX_STUDENTS, build, generate, write
from wallet.demo.world import DemoWorld

__all__ = ["KINDS", "MAX_STUDENTS", "DemoWorld", "build", "generate", "write"]
