"""The real path: the API through MWAA's InvokeRestApi, the export kept in the stack's DAG bucket, the alert.

InvokeRestApi (AWS's MWAA API reference) calls the environment's Airflow REST API with AWS credentials, no web login:
`Path` is relative to the API's base (`/variables`), `QueryParameters` and `Body` are JSON documents, and a call
times out after 10 seconds, so lists are read a page at a time (airflow_state.api.PAGE). An HTTP error comes back as
`RestApiClientException` (4xx) or `RestApiServerException` (5xx) with the status and Airflow's answer. The caller
needs `airflow:InvokeRestApi` on the Airflow role it acts as, `arn:aws:airflow:<region>:<account>:role/<env>/Admin`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_state.api import BASE, ApiError, Call


def key(environment: str) -> str:
    """Where a pause keeps the export: the DAG bucket, outside `dags/` (MWAA syncs only that prefix), versioned and
    encrypted as the bucket is, so every earlier export stays readable by version."""
    return f"airflow-state/{environment}.json"


def call_through(mwaa: Any, environment: str) -> Call:
    """A Call that goes through InvokeRestApi to `environment` (a boto3 `mwaa` client)."""
    errors = (mwaa.exceptions.RestApiClientException, mwaa.exceptions.RestApiServerException)

    def call(method: str, path: str, query: Mapping[str, Any] | None, body: Any) -> Any:
        request: dict[str, Any] = {"Name": environment, "Path": path.removeprefix(BASE), "Method": method}
        if query:
            request["QueryParameters"] = dict(query)
        if body is not None:
            request["Body"] = body
        try:
            return mwaa.invoke_rest_api(**request).get("RestApiResponse")
        except errors as exc:
            answer = exc.response
            raise ApiError(answer.get("RestApiStatusCode", 0), method, path, answer.get("RestApiResponse", answer.get("Error"))) from None

    return call


def save(s3: Any, bucket: str, environment: str, snapshot: Mapping[str, Any]) -> str:
    """The export in the bucket (its default encryption applies); returns the object's version id."""
    answer = s3.put_object(Bucket=bucket, Key=key(environment), Body=json.dumps(snapshot).encode(), ContentType="application/json")
    return answer.get("VersionId", "")


def load(s3: Any, bucket: str, environment: str) -> dict[str, Any] | None:
    """The latest export of `environment`, or None before its first pause."""
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key(environment))["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def alert(sns: Any, topic_arn: str, environment: str, what: str, items: list[str]) -> None:
    """One message to the stack's alert topic naming everything that was not kept or not restored."""
    lines = [f"Airflow state of {environment}: {what}", "", *[f"- {item}" for item in items]]
    sns.publish(TopicArn=topic_arn, Subject=f"{environment}: Airflow state {what}"[:100], Message="\n".join(lines))
