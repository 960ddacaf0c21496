"""Optional C helper for exact routing (server/core/routing/_exact.c).

Everything else is in pyproject.toml. If the extension cannot be built (no compiler, no Python
headers), the package still installs and the pure-Python version runs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "server.core.routing._exact",
            ["server/core/routing/_exact.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
