"""Optional C helpers for routing: exact (server/core/routing/_exact.c), multiblock
(server/core/routing/_multiblock.c) and the walkable graph (server/core/routing/_graph.c).

Everything else is in pyproject.toml. If an extension cannot be built (no compiler, no Python
headers), the package still installs and the pure-Python versions run.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "server.core.routing._exact",
            ["server/core/routing/_exact.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "server.core.routing._multiblock",
            ["server/core/routing/_multiblock.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "server.core.routing._graph",
            ["server/core/routing/_graph.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
