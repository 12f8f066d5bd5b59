"""Time the offline policy gate per stack and against programs with N pipelines.

    .venv/bin/python bench/gate_scaling.py [N ...]     (default N: 1 10 50)

Prints the mocked program run and the gate (pack start + Analyze + AnalyzeStack)
separately, and the gate's cost per resource: flat per-resource time means the
gate grows linearly with the program, a rising one means it does not.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.gate import PolicyPackProcess, analyze, run_gate, stack_pack_config
from offline.harness import run_stack
from offline.stacks import PROJECT_DIR

EXTRA_PIPELINES = """
import dataclasses
for i in range(2, {n} + 1):
    PipelineAssets(f"pipeline{{i}}", dataclasses.replace(pipeline_args, environment_name=f"p{{i}}-{{settings.name}}"[:48]), opts)
"""


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def program_with(pipelines: int, workdir: Path) -> Path:
    """This repository's program plus `pipelines - 1` more PipelineAssets components."""
    project = workdir / f"n{pipelines}"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "tests", "bench", "out"))
    main = project / "__main__.py"
    main.write_text(main.read_text() + EXTRA_PIPELINES.format(n=pipelines))
    return project


def main(sizes: list[int]) -> None:
    def empty_gate() -> None:
        with PolicyPackProcess() as analyzer:
            analyze(analyzer, [])

    startup = min(timed(empty_gate)[1] for _ in range(3))
    print(f"pack start + an empty analysis: {startup * 1000:.0f} ms (paid once per gate run)\n")
    print(f"{'program':<14}{'resources':>10}{'mock run s':>12}{'gate s':>9}{'gate ms/resource':>18}")
    rows = [(stack, *timed(run_stack, stack)) for stack in ("dev", "prod")]
    with tempfile.TemporaryDirectory() as tmp:
        rows += [(f"{n} pipelines", *timed(run_stack, "prod", project_dir=program_with(n, Path(tmp)))) for n in sizes]
        points = []
        for label, run, run_seconds in rows:
            result, gate_seconds = timed(run_gate, run, *stack_pack_config(run.stack))
            per_resource = (gate_seconds - startup) / len(run.resources) * 1000
            print(f"{label:<14}{len(run.resources):>10}{run_seconds:>12.2f}{gate_seconds:>9.2f}{per_resource:>18.2f}")
            assert result.passed, result.violations
            points.append((len(run.resources), gate_seconds - startup, run_seconds))
    (n1, gate1, mock1), (n2, gate2, mock2) = points[-2:]
    print(
        f"\ngrowth exponent between the two largest programs (1 = linear, 2 = quadratic): "
        f"gate {math.log(gate2 / gate1) / math.log(n2 / n1):.2f}, mocked program run {math.log(mock2 / mock1) / math.log(n2 / n1):.2f}"
    )


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [1, 10, 50, 200])
