"""The CLI sets what implicit needs, so `recs evaluate` run outside `make` prints no OpenBLAS warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(code: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env=env
    )


# The check implicit runs before fitting ALS (implicit.utils.check_blas_config).
CHECK = "import cartwise.cli\nimport implicit.utils\nimplicit.utils.check_blas_config()\n"


def test_cli_import_leaves_openblas_single_threaded_without_the_environment_variable() -> None:
    done = _run(CHECK + "import os; print(os.environ['OPENBLAS_NUM_THREADS'])")
    assert done.returncode == 0, done.stderr
    assert "OpenBLAS is configured" not in done.stderr
    assert done.stdout.strip() == "1"


def test_a_value_the_user_set_is_kept() -> None:
    done = _run(
        "import os, cartwise.cli; print(os.environ['OPENBLAS_NUM_THREADS'])", OPENBLAS_NUM_THREADS="2"
    )
    assert done.stdout.strip() == "2"
