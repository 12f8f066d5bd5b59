"""What the tests inside the local Airflow share (this environment has Airflow and the project's plain modules, not the
toolchain's pulumi or pydantic, so offline/stacks.py is out of reach)."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
