"""First pipeline step: check that the day's input exists and is not empty.

Failing here (an unhandled exception, i.e. a Lambda FunctionError) stops the DAG
before Glue spends DPU-minutes on missing data.
"""

from __future__ import annotations

import os
import re
from typing import Any

import boto3
from botocore.exceptions import ClientError

RUN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InputNotReadyError(Exception):
    """The day's input object is missing or empty."""


def input_key(prefix: str, run_date: str) -> str:
    return f"{prefix}{run_date}.csv"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    run_date = str(event.get("run_date", ""))
    if not RUN_DATE.match(run_date):
        raise ValueError(f"event.run_date must be YYYY-MM-DD, got {run_date!r}")
    bucket, key = os.environ["DATA_BUCKET"], input_key(os.environ["INPUT_PREFIX"], run_date)
    try:
        head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            raise InputNotReadyError(f"s3://{bucket}/{key} does not exist") from None
        raise
    if head["ContentLength"] == 0:
        raise InputNotReadyError(f"s3://{bucket}/{key} is empty")
    return {"bucket": bucket, "key": key, "size": head["ContentLength"], "run_date": run_date}
