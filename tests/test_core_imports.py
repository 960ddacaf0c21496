"""server.core is pure: it loads without Flask or SQLAlchemy and imports nothing else of ours."""

import subprocess
import sys

PROBE = """
import sys
import server.core.batching, server.core.layout, server.core.routing, server.core.slotting
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "sqlalchemy", "terminal", "printers")
                or (m.startswith("server.") and not m.startswith("server.core")))
print(",".join(loaded))
"""


def test_core_imports_nothing_outside_the_core():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
