"""The pipeline's own code: the Lambda handler against moto S3, the Glue transform's pure core and its S3 I/O."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from offline.stacks import PROJECT_DIR

BUCKET = "data-bucket"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


handler = load(PROJECT_DIR / "functions" / "validate_input" / "handler.py", "validate_input_handler")
transform = load(PROJECT_DIR / "glue" / "transform.py", "glue_transform")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    monkeypatch.setenv("INPUT_PREFIX", "incoming/")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


# --- Lambda ------------------------------------------------------------------------


def test_handler_returns_the_days_input(s3):
    body = b"order_id,category,amount\n1,a,1\n"
    s3.put_object(Bucket=BUCKET, Key="incoming/2026-11-23.csv", Body=body)
    expected = {"bucket": BUCKET, "key": "incoming/2026-11-23.csv", "size": len(body), "run_date": "2026-11-23"}
    assert handler.handler({"run_date": "2026-11-23"}) == expected


def test_handler_fails_when_the_input_is_missing(s3):
    with pytest.raises(handler.InputNotReadyError, match=r"s3://data-bucket/incoming/2026-11-24.csv does not exist"):
        handler.handler({"run_date": "2026-11-24"})


def test_handler_fails_when_the_input_is_empty(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/2026-11-23.csv", Body=b"")
    with pytest.raises(handler.InputNotReadyError, match=r"s3://data-bucket/incoming/2026-11-23\.csv is empty"):
        handler.handler({"run_date": "2026-11-23"})


@pytest.mark.parametrize("event", [{}, {"run_date": "23/11/2026"}, {"run_date": "2026-11-23; rm"}])
def test_handler_rejects_a_malformed_run_date(s3, event: dict):
    with pytest.raises(ValueError, match=r"event\.run_date must be YYYY-MM-DD"):
        handler.handler(event)


# --- Glue ------------------------------------------------------------------------------


def test_summary_counts_and_totals_per_category():
    csv_text = "order_id,category,amount\n1,books,12.50\n2,games,30\n3,books,0.10\n4,,5\n"
    assert transform.summarize(csv_text) == "category,orders,total_amount\nbooks,2,12.60\ngames,1,30.00\nuncategorized,1,5.00\n"


def test_redelivered_orders_count_once():
    assert transform.summarize("order_id,category,amount\n1,a,1\n1,a,1\n") == "category,orders,total_amount\na,1,1.00\n"


def test_amounts_are_exact_decimals():
    rows = "".join(f"{i},a,0.10\n" for i in range(10))
    assert transform.summarize("order_id,category,amount\n" + rows).endswith("a,10,1.00\n")


def test_an_empty_day_has_only_a_header():
    assert transform.summarize("order_id,category,amount\n") == "category,orders,total_amount\n"


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("order_id,category,price\n1,a,1\n", r"missing column\(s\) amount"),
        ("", r"missing column\(s\) order_id, category, amount"),
        ("order_id,category,amount\n1,a,ten\n", "line 2: amount 'ten' is not a number"),
    ],
)
def test_bad_input_fails_with_a_message(csv_text: str, message: str):
    with pytest.raises(transform.BadInputError, match=message):
        transform.summarize(csv_text)


def test_job_reads_input_and_writes_one_object_per_run_date(s3):
    s3.put_object(Bucket=BUCKET, Key="incoming/2026-11-23.csv", Body=b"order_id,category,amount\n1,a,2.5\n")
    argv = [
        "--DATA_BUCKET",
        BUCKET,
        "--INPUT_KEY",
        "incoming/2026-11-23.csv",
        "--RUN_DATE",
        "2026-11-23",
        "--OUTPUT_PREFIX",
        "curated/",
        "--job-bookmark-option",
        "job-bookmark-disable",
    ]
    assert transform.main(argv) == "curated/2026-11-23/summary.csv"
    assert transform.main(argv) == "curated/2026-11-23/summary.csv"  # a re-run overwrites
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["Contents"]]
    assert keys == ["curated/2026-11-23/summary.csv"]
    assert s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read() == b"category,orders,total_amount\na,1,2.50\n"
