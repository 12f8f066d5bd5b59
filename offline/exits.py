"""Exit codes of every offline command, and the one wrapper that maps errors to them.

0 every check passed · 1 a check failed (policy gate, DAGs, requirements, pipeline run, missing prices, stale
workflows) · 2 bad input: config, stack file, pack config, a DAG that doesn't import, arguments; one message naming
what and where, no traceback · 3 a bug in these tools: the traceback is kept, it is what a bug report needs.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Callable

PASSED, FAILED, BAD_INPUT, BUG = 0, 1, 2, 3


class InputError(ValueError):
    """Bad input: its message is the whole story. The tools' own bad-input errors (a stack file, the pack config, a
    local Airflow that can't be set up) subclass it, so this module imports none of them."""


def input_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input (pulumi and the pack imported here, late, so Airflow-side code can use this module)."""
    import pulumi

    from policies.rules.library.cost_model import CostModelError

    # pulumi.RunError: the program's ConfigError, from whichever copy of the program ran.
    return InputError, pulumi.RunError, CostModelError


def last_error(stderr: str) -> str | None:
    """The `error: ...` message a child process printed last (with its continuation lines), if any."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    return "\n".join(lines[starts[-1] :]).removeprefix("error: ") if starts else None


def check_child(done: subprocess.CompletedProcess, what: str, ok: tuple[int, ...] = (PASSED,), context: str = "") -> None:
    """A child command's exit: bad input becomes InputError with its own message (after `context`); other codes are a crash."""
    if done.returncode == BAD_INPUT and (message := last_error(done.stderr)):
        raise InputError(f"{context}{message}")
    if done.returncode not in ok:
        raise RuntimeError(f"{what} crashed (exit {done.returncode}):\n{done.stderr[-4000:]}")


def report_error(exc: BaseException, bad_input: tuple[type[BaseException], ...] | None = None, where: str = "") -> int:
    """Report an error as every command does: bad input is one `error:` message (after `where`, e.g. "stack dev: "),
    anything else a bug with its traceback; returns the exit code it stands for."""
    if isinstance(exc, bad_input if bad_input is not None else input_errors()):
        print(f"error: {where}{exc}", file=sys.stderr)
        return BAD_INPUT
    traceback.print_exception(exc)
    print(f"error: {where}that is a bug in the offline tools, not in your input: the traceback above says where", file=sys.stderr)
    return BUG


def run_main(main: Callable[[], int], bad_input: tuple[type[BaseException], ...] | None = None) -> int:
    """Run a command's main: bad input is one `error:` message and exit 2; a bug keeps its traceback and exits 3."""
    try:
        return main()
    except Exception as exc:
        return report_error(exc, bad_input)
