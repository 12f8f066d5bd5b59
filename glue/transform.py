"""Glue Python shell job: summarise the day's orders per category.

Python shell (0.0625 DPU, about $0.03 an hour) rather than Spark: the input is
one small CSV a day, and a Spark job's 2-worker minimum would cost ~30x more.
The pure core, `summarize`, is what the unit tests exercise; `main` is S3 I/O.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import defaultdict
from decimal import Decimal, InvalidOperation

REQUIRED_COLUMNS = ("order_id", "category", "amount")


class BadInputError(ValueError):
    """The input CSV cannot be summarised; the job run fails with this message."""


def summarize(csv_text: str) -> str:
    """Orders per category: count and total amount, categories sorted, amounts exact."""
    reader = csv.DictReader(io.StringIO(csv_text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BadInputError(f"input is missing column(s) {', '.join(missing)}; header was {reader.fieldnames}")
    counts: dict[str, int] = defaultdict(int)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if row["order_id"] in seen:
            continue  # re-delivered rows must not double-count
        seen.add(row["order_id"])
        try:
            amount = Decimal(row["amount"])
        except InvalidOperation:
            raise BadInputError(f"line {line}: amount {row['amount']!r} is not a number") from None
        category = row["category"].strip() or "uncategorized"
        counts[category] += 1
        totals[category] += amount
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["category", "orders", "total_amount"])
    for category in sorted(counts):
        writer.writerow([category, counts[category], f"{totals[category]:.2f}"])
    return out.getvalue()


def output_key(prefix: str, run_date: str) -> str:
    """One object per run date, so a re-run overwrites instead of duplicating."""
    return f"{prefix}{run_date}/summary.csv"


def main(argv: list[str]) -> str:
    import boto3  # Glue provides boto3; imported here so `summarize` needs nothing

    parser = argparse.ArgumentParser()
    for name in ("--DATA_BUCKET", "--INPUT_KEY", "--RUN_DATE", "--OUTPUT_PREFIX"):
        parser.add_argument(name, required=True)
    args, _ = parser.parse_known_args(argv)  # Glue adds its own --job-bookmark-option etc.
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=args.DATA_BUCKET, Key=args.INPUT_KEY)["Body"].read().decode("utf-8")
    key = output_key(args.OUTPUT_PREFIX, args.RUN_DATE)
    s3.put_object(Bucket=args.DATA_BUCKET, Key=key, Body=summarize(body).encode(), ContentType="text/csv")
    return key


if __name__ == "__main__":
    print(main(sys.argv[1:]))
