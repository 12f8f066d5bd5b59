"""An embedded AWS for the pipeline: moto's server on 127.0.0.1, with the project's
own code as the Lambda and Glue runtimes.

moto's Docker-free Lambda only echoes payloads and its Glue runs always
succeed, so neither could show the pipeline failing. Here the server runs in
this process and two hooks replace those stubs: an invoke unzips the code that
was deployed to the function and calls its handler with the function's
environment (an exception becomes a real `FunctionError: Unhandled`), and
StartJobRun downloads the job's script from S3 and runs it with the job's default
arguments and the run's (an exception marks the run FAILED). A third delivers
EventBridge events to SNS topic targets, which moto doesn't. Everything else is moto.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import runpy
import sys
import tempfile
import threading
import traceback
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.events.models import Rule
from moto.glue.models import FakeJob
from moto.server import ThreadedMotoServer
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

log = logging.getLogger(__name__)
_ENV_LOCK = threading.Lock()  # handlers and scripts see their own environment, one at a time


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    with _ENV_LOCK, mock.patch.dict(os.environ, variables):
        yield


def _invoke_deployed_code(
    backend: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: dict
) -> bytes:
    """Lambda invoke: run the handler from the function's own deployment package."""
    function = backend.get_function(function_name, qualifier)
    module_name, handler_name = function.handler.rsplit(".", 1)
    with tempfile.TemporaryDirectory() as code_dir, _environment(function.environment_vars):
        zipfile.ZipFile(io.BytesIO(function.code_bytes)).extractall(code_dir)
        spec = importlib.util.spec_from_file_location(f"lambda_{function_name}_{module_name}", Path(code_dir) / f"{module_name}.py")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            result = getattr(module, handler_name)(json.loads(body or "{}"), None)
            return json.dumps(result).encode()
        except Exception as exc:  # the Lambda runtime's contract: report, don't raise
            response_headers["x-amz-function-error"] = "Unhandled"
            trace = traceback.format_exception(exc)
            return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": trace}).encode()


_original_start_job_run = FakeJob.start_job_run


def _run_glue_script(job: FakeJob, **kwargs: Any) -> str:
    """Glue StartJobRun: run the job's script from S3 with the run's arguments; failure marks the run FAILED."""
    run_id = _original_start_job_run(job, **kwargs)
    run = next(r for r in job.job_runs if r.job_run_id == run_id)
    bucket, key = job.command["ScriptLocation"].removeprefix("s3://").split("/", 1)
    # Glue passes the job's default arguments, overridden by the run's (Glue API: StartJobRun Arguments).
    argv = [item for pair in {**(job.default_arguments or {}), **run.arguments}.items() for item in pair]
    try:
        with tempfile.TemporaryDirectory() as workdir:
            script = Path(workdir) / Path(key).name
            script.write_bytes(_s3_get(bucket, key))
            saved_argv = sys.argv
            sys.argv = [str(script), *argv]
            try:
                runpy.run_path(str(script), run_name="__main__")
            finally:
                sys.argv = saved_argv
        run.status = "SUCCEEDED"
    except Exception:
        run.status = "FAILED"
        log.exception("Glue job %s run %s failed", job.name, run_id)  # moto's GetJobRun has no ErrorMessage to carry it
    return run_id


_original_send_to_targets = Rule.send_to_targets


def _deliver_to_sns(rule: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
    """EventBridge delivery to an SNS topic target (moto delivers to SQS, logs and buses only): the event as the message."""
    topics = [t for t in rule.targets if parse_arn(t["Arn"]).service == "sns"]
    if topics and rule.event_pattern.matches_event(event):
        for target in topics:
            arn = parse_arn(target["Arn"])
            sns_backends[arn.account][arn.region].publish(message=json.dumps(event, default=str), arn=target["Arn"])
    others = [t for t in rule.targets if t not in topics]
    if others:
        saved, rule.targets = rule.targets, others
        try:
            _original_send_to_targets(rule, event, transform_input)
        finally:
            rule.targets = saved


def _s3_get(bucket: str, key: str) -> bytes:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).get_object(Bucket=bucket, Key=key)["Body"].read()


class LocalAws:
    """`with LocalAws() as aws:` a moto server on a free loopback port, with the code runtimes plugged in."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> LocalAws:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's access log: a line per request on stderr
        self._patches = contextlib.ExitStack()
        self._patches.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", _invoke_deployed_code))
        self._patches.enter_context(mock.patch.object(FakeJob, "start_job_run", _run_glue_script))
        self._patches.enter_context(mock.patch.object(Rule, "send_to_targets", _deliver_to_sns))
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._post("/moto-api/reset", {})  # moto's backends are per process: each LocalAws starts from an empty AWS
        self._post("/moto-api/config", {"lambda": {"use_docker": False}})
        self.environment = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        self._before = {key: os.environ.get(key) for key in self.environment}
        os.environ.update(self.environment)
        return self

    def __exit__(self, *exc: object) -> None:
        """Stops the server and gives the process its environment back: no later client reaches a stopped endpoint."""
        self.server.stop()
        self._patches.close()
        for key, value in self._before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=self.region)

    def bucket_location(self) -> dict[str, Any]:
        """CreateBucket's arguments for this region, as AWS wants them: us-east-1 takes no location constraint, every other
        region its own (S3 API reference, CreateBucket: `CreateBucketConfiguration.LocationConstraint`; moto refuses
        a bucket without one on another region's endpoint with IllegalLocationConstraintException, as S3 does)."""
        return {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}

    def _post(self, path: str, body: dict) -> None:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        urllib.request.urlopen(request, timeout=10).read()
