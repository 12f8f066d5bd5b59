"""The stack's Airflow in a browser, as MWAA runs it, on this machine: no Docker, no AWS account (`bin/offline ui`).

AWS's local runner (aws-mwaa-local-runner) stops at Airflow 2 and needs Docker. This starts the stack's own Airflow 3:
- the stack's Airflow version with MWAA's package set plus the stack's requirements.txt (offline/airflow_env.py), the
  environment's `airflowConfigurationOptions` as `pulumi up` sends them, and the DAG folder synced from the bucket's
  dags/ prefix as MWAA's workers sync it (a serverless stack: its definition, loaded as the service loads it);
- Airflow 3's four components as MWAA runs them, each its own process: the API server (the UI and the REST API at
  /api/v2, bound to 127.0.0.1 only), the scheduler (LocalExecutor), the DAG processor and the triggerer, on one SQLite
  database; every login is an admin (Airflow's simple auth manager), which is fine on the loopback address only;
- the embedded AWS (offline/local_aws.py) with the stack's pipeline deployed as the pipeline run deploys it (the
  Lambda and Glue job running the stack's own code, the data bucket with sample input, the alert topic).

While it runs it prints each finished run and every alert the topic receives, and re-uploads the DAG folder when a
file under the project's dags/ changes, as `pulumi up` would; the DAG processor shows the change at its next refresh,
as on MWAA. Ctrl-C stops every process it started.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml_workflows
from names import PIPELINE_DAG_ID
from offline import airflow_env
from offline.airflow_side import no_retries
from offline.harness import StackRun, object_body, render_workflow_folder, run_stack, uploaded_definitions, workflow_named
from offline.pipeline_run import SCENARIOS, aws_connection, deploy, pipeline_config, read_alerts, subscribe_alert_queue, sync_dags
from offline.stacks import PROJECT_DIR, stack_settings
from settings import Settings

#: Airflow 3's components, as MWAA runs them; the task logs are read from this machine's disk, so no log server.
COMPONENTS = {"api-server": [], "scheduler": ["--skip-serve-logs"], "dag-processor": [], "triggerer": ["--skip-serve-logs"]}
#: How long the components may take to report healthy with the DAGs parsed (a first start on 2 cores: about 15 s).
READY_TIMEOUT = 180
#: Where migrated empty metadata databases are kept, one per Airflow environment (`airflow db migrate` once, then a
#: copy), and each stack's component logs of its last start (kept after a stop, for a look at what went wrong).
DATABASES = PROJECT_DIR / ".cache" / "airflow-ui"
#: How long the components get to stop after SIGTERM before SIGKILL: they take about 3.7 s (bench/local_ui.py), but the
#: triggerer's runner process sometimes outlives it, and a person who pressed Ctrl-C is waiting.
STOP_GRACE = 5
#: prctl(2)'s option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: A mw1.small worker runs 5 tasks at once (MWAA's `celery.worker_autoscale` default for the class: 5,5).
PARALLELISM = "5"


def token(url: str) -> str:
    """A bearer token from the simple auth manager, which gives one without credentials when every user is an admin."""
    with urllib.request.urlopen(f"{url}/auth/token", timeout=10) as answer:
        return json.load(answer)["access_token"]


def rest(url: str, path: str, body: dict[str, Any] | None = None, method: str | None = None, bearer: str | None = None) -> Any:
    """`path` under /api/v2 of the UI at `url`, as a script calls it (the README's curl lines): a token, then the call."""
    request = urllib.request.Request(
        f"{url}/api/v2/{path.lstrip('/')}", data=json.dumps(body).encode() if body is not None else None, method=method
    )
    request.add_header("Authorization", f"Bearer {bearer or token(url)}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def process_tree(pid: int) -> set[int]:
    """Every process below `pid` (the components, their workers, the tasks' processes), from /proc: what the browser
    test checks Ctrl-C ended and the benchmark sums the memory of."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue  # ended meanwhile
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _end_with_parent() -> None:
    """In a component's process, before Airflow starts: SIGTERM when the UI's process dies, however it dies (a SIGKILL
    leaves no chance to stop anything), so no component outlives it (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SampleInput:
    """Which logical dates find which input in the data bucket: a manual run now succeeds; two past days fail."""

    today: date
    days: dict[str, date] = field(init=False)

    def __post_init__(self) -> None:
        self.days = {"success": self.today, "bad-input": self.today - timedelta(days=1), "missing-input": self.today - timedelta(days=2)}

    def objects(self, prefix: str) -> dict[str, str]:
        """key -> body: the success input for today and the week ahead (scheduled runs too), the bad input's day."""
        week = {f"{prefix}{self.today + timedelta(days=n)}.csv": SCENARIOS["success"] for n in range(8)}
        return week | {f"{prefix}{self.days['bad-input']}.csv": SCENARIOS["bad-input"]}


class LocalUi:
    """`with LocalUi("dev") as ui:` the stack's Airflow serving ui.url; `ui.watch()` until Ctrl-C."""

    def __init__(self, stack: str, project: Path = PROJECT_DIR, say: Callable[[str], None] = print, no_retries: bool = False) -> None:
        self.stack, self.project, self.say, self.no_retries = stack, project, say, no_retries
        self.settings: Settings = stack_settings(stack, project)
        self.version = self.settings.airflow_version
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.sample = SampleInput(datetime.now(UTC).date())
        self._seen_runs: set[tuple[str, str]] = set()

    # --- start and stop ------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalUi:
        from offline.local_aws import LocalAws  # moto: imported only when a UI starts

        self._stack = contextlib.ExitStack()
        try:
            started = time.monotonic()
            self.logs = DATABASES / "logs" / self.stack
            self.logs.mkdir(parents=True, exist_ok=True)
            self._quiet_runtimes()
            self.run = self._deployed_run()
            self.tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix=f"airflow-ui-{self.stack}-")))
            self.home, self.dags = self.tmp / "airflow", self.tmp / "dags"
            self.aws = self._stack.enter_context(LocalAws(self.settings.region))
            deploy(self.run, self.aws)
            self.config = pipeline_config(self.run, self.settings)
            for key, body in self.sample.objects(self.config["input_prefix"]).items():
                self.aws.client("s3").put_object(Bucket=self.config["data_bucket"], Key=key, Body=body.encode())
            self.alert_queue = subscribe_alert_queue(self.aws, self.config["alert_topic_arn"])
            self._sources = self._source_stamp()
            self._render_dags()
            python = airflow_env.with_requirements(self.version, airflow_env.stack_requirements(self.settings, self.project))
            self._new_database(python)
            if self.no_retries:
                (self.home / "config").mkdir()
                shutil.copyfile(Path(no_retries.__file__), self.home / "config" / "airflow_local_settings.py")
            self._stack.callback(self.stop)
            environ = self._environ()
            for component, options in COMPONENTS.items():
                log = (self.logs / f"{component}.log").open("w")
                self._stack.callback(log.close)
                self.processes[component] = subprocess.Popen(
                    [str(python.with_name("airflow")), component, *options],
                    env=environ,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: stop() ends it with every task process it forked
                    preexec_fn=_end_with_parent,
                )
            self._wait_until_ready()
            if self.settings.serverless:  # a deployed workflow runs on its schedule: the service has no paused state
                for dag in self.dag_list():
                    self.api(f"dags/{dag['dag_id']}", {"is_paused": False}, method="PATCH")
            self.ready_seconds = time.monotonic() - started
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _quiet_runtimes(self) -> None:
        """What the Lambda and Glue code print, and the local AWS's log, go to local-aws.log: the terminal shows runs
        and alerts (the say function keeps the terminal it was given)."""
        log = self._stack.enter_context((self.logs / "local-aws.log").open("w"))
        self._stack.enter_context(contextlib.redirect_stdout(log))
        handler = logging.StreamHandler(log)
        runtimes = logging.getLogger("offline.local_aws")
        runtimes.addHandler(handler)
        runtimes.propagate = False
        self._stack.callback(lambda: (runtimes.removeHandler(handler), setattr(runtimes, "propagate", True)))

    def stop(self) -> None:
        """Every component's process group ended: SIGTERM, then SIGKILL for whatever is left after STOP_GRACE. A second
        Ctrl-C (or a SIGTERM after it) can't cut this short: they are ignored until every group has ended."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group's stragglers (a task's supervisor), if any
            process.wait()

    def _deployed_run(self) -> StackRun:
        """The program as `pulumi up` runs it with the environment there (a duty-cycled stack's running state)."""
        from offline.commands.run import states_from_now

        (_, at), *_ = states_from_now(self.settings)
        self._at = at
        return run_stack(self.stack, project_dir=self.project, at=at)

    def _new_database(self, python: Path) -> None:
        """The metadata database: a copy of this environment's migrated empty one (`airflow db migrate` the first time)."""
        self.home.mkdir(parents=True)
        stamp = (python.parent.parent / ".stamp").read_text().strip()
        template = DATABASES / f"{python.parent.parent.name}-{stamp}.db"
        if not template.exists():
            self.say(f"migrating an empty metadata database for Airflow {self.version} (once per environment)")
            with tempfile.TemporaryDirectory() as scratch:
                environ = airflow_env.airflow_environ(Path(scratch), {"PYTHONPATH": ""})
                done = subprocess.run([str(python.with_name("airflow")), "db", "migrate"], env=environ, capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"airflow db migrate failed on Airflow {self.version}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
                DATABASES.mkdir(parents=True, exist_ok=True)
                partial = template.with_suffix(f".{os.getpid()}.tmp")
                shutil.copyfile(Path(scratch) / "airflow.db", partial)
                partial.replace(template)
        shutil.copyfile(template, self.home / "airflow.db")

    def _environ(self) -> dict[str, str]:
        """The components' environment: the stack's Airflow options as MWAA applies them, then what runs them here."""
        options = {
            f"AIRFLOW__{section.upper()}__{option.upper()}": str(value)
            for key, value in self._configuration_options().items()
            for section, option in [key.split(".", 1)]
        }
        local = {
            "PYTHONPATH": "",  # the DAGs import what MWAA's would: the folder and the packages, not this repository
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": PARALLELISM,
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # shared by the API server and the task processes
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        return airflow_env.airflow_environ(self.home, {**options, **aws_connection(self.aws), **local})

    def _configuration_options(self) -> dict[str, Any]:
        """The environment's `airflowConfigurationOptions` as recorded (none for a serverless stack)."""
        environments = self.run.of_type("aws:mwaa/environment:Environment")
        return dict(environments[0].inputs.get("airflowConfigurationOptions") or {}) if environments else {}

    # --- the DAG folder ------------------------------------------------------------------------------------------

    def _source_stamp(self) -> dict[str, float]:
        """What a change of the DAG folder shows in: each file under the project's dags/ and the stack file, by mtime."""
        files = [p for p in (self.project / "dags").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        files.append(self.project / f"Pulumi.{self.stack}.yaml")
        return {str(p): p.stat().st_mtime for p in files if p.exists()}

    @property
    def dag_bucket(self) -> str:
        return self.run.by_name("dags-storage-bucket").outputs["bucket"]

    def _render_dags(self) -> None:
        """The DAG folder as MWAA's workers get it: the bucket's dags/ prefix synced, files deleted there removed here
        (a serverless stack: its definition as uploaded, with the service's loader)."""
        if self.settings.serverless:
            render_workflow_folder(self.run, self.dags, uploaded_definitions(self.aws, self.run))
            return
        fresh = sync_dags(self.aws, self.dag_bucket, self.tmp / "synced")
        self.dags.mkdir(exist_ok=True)
        for stale in [p for p in self.dags.rglob("*") if p.is_file() and not (fresh / p.relative_to(self.dags)).exists()]:
            stale.unlink()
        for file in (p for p in fresh.rglob("*") if p.is_file()):
            target = self.dags / file.relative_to(fresh)
            if not target.exists() or target.read_bytes() != file.read_bytes():  # unchanged files keep their mtime
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
        shutil.rmtree(fresh)

    def _upload_changes(self) -> bool:
        """When a DAG file or the stack file changed: the program run again and its bucket objects uploaded, as by
        `pulumi up`, then the folder synced as MWAA syncs it. True when something changed."""
        stamp = self._source_stamp()
        if stamp == self._sources:
            return False
        self._sources = stamp
        self.run = run_stack(self.stack, project_dir=self.project, at=self._at)
        s3, bucket = self.aws.client("s3"), self.dag_bucket
        wanted = {
            obj.inputs["key"]: obj for obj in self.run.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if obj.inputs["bucket"] == bucket
        }
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            if item["Key"] not in wanted:
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        for key, obj in wanted.items():
            s3.put_object(Bucket=bucket, Key=key, Body=object_body(obj))
        self._render_dags()
        return True

    # --- the running UI ------------------------------------------------------------------------------------------

    def api(self, path: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
        """The REST API at /api/v2, with one token for the UI's whole run."""
        if not hasattr(self, "_token"):
            self._token = token(self.url)
        return rest(self.url, path, body, method, self._token)

    def _wait_until_ready(self) -> None:
        """Until every component reports healthy and the DAG processor has parsed the folder (the pipeline's DAG is
        listed, or an import error says why not); a component that exits first is the error, with its log's end."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as answer:
                    health = json.load(answer)
                if all(part.get("status") == "healthy" for part in health.values()) and self._parsed():
                    return
            time.sleep(0.25)
        raise RuntimeError(f"Airflow {self.version} was not ready after {READY_TIMEOUT} s; the components' logs: {self.logs}")

    def _parsed(self) -> bool:
        return any(d["dag_id"] == PIPELINE_DAG_ID for d in self.dag_list()) or bool(self.api("importErrors")["import_errors"])

    def dag_list(self) -> list[dict[str, Any]]:
        return self.api("dags")["dags"]

    def _check_alive(self) -> None:
        for component, process in self.processes.items():
            if process.poll() is not None:
                log = (self.logs / f"{component}.log").read_text(errors="replace")
                raise RuntimeError(f"the {component} exited (code {process.returncode}); the end of its log:\n{log[-3000:]}")

    def introduction(self) -> str:
        """What the URL serves and what to do next."""
        days = self.sample.days
        dags = ", ".join(f"{d['dag_id']} ({'paused' if d['is_paused'] else 'unpaused'})" for d in self.dag_list()) or "none"
        errors = self.api("importErrors")["import_errors"]
        lines = [
            f"Airflow {self.version} for stack {self.stack} is ready at {self.url} (in {self.ready_seconds:.1f} s; "
            "no login: every local user is an admin, on 127.0.0.1 only)",
            f"  DAGs: {dags}",
            *(f"  import error in {error['filename']}: {error['stack_trace'].strip().splitlines()[-1]}" for error in errors),
            f"  Trigger {PIPELINE_DAG_ID}: the Lambda, then the Glue job, run the stack's code on the local AWS "
            f"(input for {days['success']} and the week ahead is in place).",
            f"  A failing run: trigger with logical date {days['bad-input']} (bad input: the Glue job fails) or "
            f"{days['missing-input']} (no input: the Lambda fails); the alert shows here "
            + ("at once (--no-retries)." if self.no_retries else "after the task's retries, as on MWAA (--no-retries: at once)."),
            "  Edit a file under dags/: it is uploaded as by `pulumi up`, and the UI shows it after the DAG processor's refresh.",
            f"  REST API: {self.url}/api/v2 (a token: curl -s {self.url}/auth/token). Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    def poll(self) -> list[str]:
        """One look at what happened: finished runs, alerts, a changed DAG folder; the lines to print."""
        self._check_alive()
        lines = []
        if self._upload_changes():
            lines.append("dags/ changed: uploaded as by `pulumi up`; the DAG processor picks it up at its next refresh")
        for dag in self.dag_list():
            for run in self.api(f"dags/{dag['dag_id']}/dagRuns?order_by=-run_after&limit=20")["dag_runs"]:
                if run["state"] in ("success", "failed") and (dag["dag_id"], run["dag_run_id"]) not in self._seen_runs:
                    self._seen_runs.add((dag["dag_id"], run["dag_run_id"]))
                    lines.append(f"run {run['dag_run_id']} of {dag['dag_id']}: {run['state']}")
                    if run["state"] == "failed" and self.settings.serverless:
                        self._workflow_failed(dag["dag_id"], run)
        lines += [f"alert: {headline(alert)}" for alert in read_alerts(self.aws, self.alert_queue)]
        return lines

    def _workflow_failed(self, dag_id: str, run: dict[str, Any]) -> None:
        """What MWAA Serverless sends EventBridge when a workflow run fails (offline/pipeline_run.py's stand-in)."""
        from offline.pipeline_run import workflow_events

        logical = (run.get("logical_date") or run["run_after"])[:10]
        name = self.settings.name if dag_id == PIPELINE_DAG_ID else yaml_workflows.workflow_name(self.settings, dag_id)
        workflow = workflow_named(self.run, name).outputs["workflowArn"]
        workflow_events(self.aws, workflow, [{"dag_run_state": "failed", "logical_date": logical, "run_id": run["dag_run_id"]}])

    def watch(self, interval: float = 2.0) -> None:
        """Print what happens until interrupted (Ctrl-C, or SIGTERM)."""
        while True:
            for line in self.poll():
                self.say(line)
            time.sleep(interval)


def headline(alert: str) -> str:
    """An alert's first line; an EventBridge event delivered as the message (a serverless run's failure): its type,
    run and status rather than the whole JSON."""
    with contextlib.suppress(ValueError, AttributeError, TypeError, KeyError, IndexError):
        event = json.loads(alert)
        detail = event["detail"]
        return f"{event['detail-type']}: {detail.get('runId')} {detail.get('status')} ({event['resources'][0]})"
    return alert.splitlines()[0]


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM both stop the UI, as KeyboardInterrupt. SIGINT is set here rather than taken as
    Python leaves it: a process started with SIGINT ignored (by a test runner's worker, a nohup) inherits that, and
    Python then keeps it ignored, so Ctrl-C would do nothing."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
