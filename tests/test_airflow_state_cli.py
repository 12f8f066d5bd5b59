"""The real path of the state round trip: InvokeRestApi as botocore describes it, the export in the bucket, the alert.

MWAA's API is checked against botocore's own model (Stubber validates every request), S3 and SNS are moto's; the
failure semantics are the ones `python -m airflow_state` documents: an export that keeps failing lets the pause go
ahead with an alert, a restore that fails alerts and exits non-zero, and a Connection the API can't return is named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from airflow_state import __main__ as cli
from airflow_state import mwaa
from airflow_state.api import ApiError

ENVIRONMENT, REGION = "mwaa-platform-dev", "us-east-1"


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """moto's S3 and SNS with the stack's bucket and topic, the stack's outputs file, and a stubbed MWAA client."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3, sns = boto3.client("s3"), boto3.client("sns")
        s3.create_bucket(Bucket="dags")
        s3.put_bucket_versioning(Bucket="dags", VersioningConfiguration={"Status": "Enabled"})
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps({"environment_name": ENVIRONMENT, "dag_bucket_name": "dags", "alert_topic_arn": topic}))
        client = boto3.client("mwaa", region_name=REGION)
        with Stubber(client) as stub:
            clients = {"mwaa": client, "s3": s3, "sns": sns}
            yield (
                stub,
                (lambda name: clients[name]),
                outputs,
                lambda: [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])],
            )


def answer(stub: Stubber, path: str, response: Any, method: str = "GET", query: dict | None = None, body: Any = None) -> None:
    expected: dict[str, Any] = {"Name": ENVIRONMENT, "Path": path, "Method": method}
    if query:
        expected["QueryParameters"] = query
    if body is not None:
        expected["Body"] = body
    stub.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": response}, expected)


def page(key: str, items: list) -> dict:
    return {key: items, "total_entries": len(items)}


FIRST = {"limit": 100, "offset": 0}


def an_environment(stub: Stubber) -> None:
    """An environment with a Variable, a UI Connection, the default pool, and one DAG with no runs, paused by a person."""
    answer(stub, "/variables", page("variables", [{"key": "threshold", "value": "250", "description": None}]), query=FIRST)
    answer(stub, "/connections", page("connections", [{"connection_id": "partner_api", "conn_type": "http"}]), query=FIRST)
    pool = {"name": "default_pool", "slots": 128, "description": "Default pool", "include_deferred": False}
    answer(stub, "/pools", page("pools", [pool]), query=FIRST)
    answer(stub, "/dags", page("dags", [{"dag_id": "lambda_glue_pipeline", "is_paused": True}]), query=FIRST)
    answer(stub, "/dags/lambda_glue_pipeline/dagRuns", page("dag_runs", []), query=FIRST)
    answer(stub, "/version", {"version": "3.3.1"})


def test_the_pause_keeps_the_export_in_the_bucket_and_names_what_it_cannot_keep(aws, capsys):
    stub, clients, outputs, alerts = aws
    an_environment(stub)
    assert cli.main(["export", "--outputs", str(outputs)], clients) == 0
    stub.assert_no_pending_responses()  # every call went through InvokeRestApi with the path relative to /api/v2
    kept = mwaa.load(clients("s3"), "dags", ENVIRONMENT)
    assert kept is not None and kept["dags"] == {"lambda_glue_pipeline": {"is_paused": True, "runs": []}}
    assert kept["variables"] == [{"key": "threshold", "value": "250", "description": None}]
    (alert,) = alerts()
    assert "partner_api (http)" in alert and "never returns its password" in alert
    assert "airflow-state/mwaa-platform-dev.json" in capsys.readouterr().out


def test_an_export_that_keeps_failing_lets_the_pause_go_ahead_and_alerts(aws, capsys):
    stub, clients, outputs, alerts = aws
    stub.add_client_error("invoke_rest_api", "RestApiServerException", http_status_code=400, service_message="webserver unavailable")
    assert cli.main(["export", "--outputs", str(outputs), "--retry-minutes", "0"], clients) == 0
    (alert,) = alerts()
    assert "not kept at this pause" in alert and "the next resume restores the previous export" in alert
    assert "warning: mwaa-platform-dev: the export failed" in capsys.readouterr().err
    assert mwaa.load(clients("s3"), "dags", ENVIRONMENT) is None


def test_a_restore_that_fails_alerts_and_exits_non_zero(aws, capsys):
    stub, clients, outputs, alerts = aws
    snapshot = {"variables": [{"key": "threshold", "value": "250", "description": None}], "pools": [], "dags": {}, "not_kept": []}
    mwaa.save(clients("s3"), "dags", ENVIRONMENT, snapshot)
    stub.add_client_error(
        "invoke_rest_api", "RestApiClientException", http_status_code=400, response_meta={},
        modeled_fields={"RestApiStatusCode": 403, "RestApiResponse": {"detail": "Forbidden"}},
    )  # fmt: skip
    assert cli.main(["restore", "--outputs", str(outputs)], clients) == 1
    (alert,) = alerts()
    assert "not restored after the resume" in alert and "HTTP 403" in alert
    assert "error: mwaa-platform-dev: the restore failed: POST /api/v2/variables: HTTP 403" in capsys.readouterr().err


def test_the_first_resume_has_nothing_to_restore(aws, capsys):
    _, clients, outputs, alerts = aws
    assert cli.main(["restore", "--outputs", str(outputs)], clients) == 0
    assert "no export yet" in capsys.readouterr().out and alerts() == []


def test_an_http_error_keeps_airflow_s_status(aws):
    stub, clients, _, _ = aws
    stub.add_client_error(
        "invoke_rest_api", "RestApiClientException", http_status_code=400,
        modeled_fields={"RestApiStatusCode": 409, "RestApiResponse": {"detail": "exists"}},
    )  # fmt: skip
    with pytest.raises(ApiError) as raised:
        mwaa.call_through(clients("mwaa"), ENVIRONMENT)("POST", "/api/v2/pools", None, {"name": "p", "slots": 1})
    assert raised.value.status == 409


def test_outputs_that_are_not_the_stack_s_are_one_clear_error(tmp_path: Path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text("{}")
    with pytest.raises(cli.InputError, match="pulumi stack output --json"):
        cli.main(["export", "--outputs", str(outputs)], lambda name: None)
