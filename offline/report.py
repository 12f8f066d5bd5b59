"""What every command's report shares: counts that read as English, and the summary table that closes the main job."""

from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """'1 problem', '2 problems', '0 DAGs': a count with its noun in the right number."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render_summary(rows: list[tuple[str, str, str, str]], failed: bool) -> str:
    """One table at the end: every stack, state and check with its verdict, then the run's."""
    lines = ["", "Summary", f"    {'stack':<10} {'state':<10} {'check':<26} verdict"]
    lines += [f"    {stack:<10} {state or '-':<10} {check:<26} {verdict}" for stack, state, check, verdict in rows]
    failures = sum(1 for row in rows if row[3].startswith(("FAIL", "INCOMPLETE")))
    lines.append(f"FAILED: {failures} of {counted(len(rows), 'check')} failed" if failed else f"PASSED: all {counted(len(rows), 'check')}")
    return "\n".join(lines)
