"""The team's YAML workflows (dags/workflows/, yaml_workflows.py): one file for both modes. A serverless stack deploys
each the service can run as its own workflow, with a role that calls what its tasks call, and names every other with its
reasons; a provisioned stack uploads them for dags/load_yaml_workflows.py and refuses to deploy without dag-factory."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from unittest import mock

import pytest
import yaml

import yaml_workflows
from offline.harness import object_body, run_stack, workflow_definitions
from tests.fork.apply import TEAM_WORKFLOWS
from tests.stackkit import copy_project, fixture_settings

WORKFLOW = "aws-native:mwaaserverless:Workflow"
LAMBDA = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"
#: A workflow that only asks the stack's Lambda: its role must not get the Glue job.
LAMBDA_ONLY = f"""ping:
  schedule: "*/30 * * * *"
  tasks:
    ask:
      operator: {LAMBDA}
      function_name: ${{PIPELINE_LAMBDA_FUNCTION_NAME}}
      execution_timeout: {{__type__: datetime.timedelta, seconds: 120}}
"""


def with_workflows(tmp_path: Path, files: dict[str, str], dag_factory: bool = True) -> Path:
    """A copy of the project whose dags/workflows/ holds `files` alone (a fork's own are replaced), dag-factory pinned or
    not."""
    project = copy_project(tmp_path)
    shutil.rmtree(project / "dags" / "workflows", ignore_errors=True)
    (project / "dags" / "workflows").mkdir()
    for name, text in files.items():
        (project / "dags" / "workflows" / name).write_text(text)
    requirements = project / "dags" / "requirements.txt"
    lines = [line for line in requirements.read_text().splitlines() if not line.startswith("dag-factory")]
    requirements.write_text("\n".join([*lines, *([yaml_workflows.DAG_FACTORY_PIN] if dag_factory else [])]) + "\n")
    return project


def load(tmp_path: Path, files: dict[str, str]) -> list[yaml_workflows.YamlWorkflow]:
    return yaml_workflows.load(fixture_settings(), with_workflows(tmp_path, files))


def test_placeholders_become_the_stacks_names_and_the_service_can_run_the_file(tmp_path: Path):
    (retry,) = load(tmp_path, {"late_input_retry.yaml": TEAM_WORKFLOWS["late_input_retry.yaml"]})
    task = retry.tasks["check_input"]
    assert task["function_name"] == "mwaa-platform-dev-validate-input" and "$" not in retry.text
    assert retry.tasks["transform"]["job_name"] == "mwaa-platform-dev-transform"
    assert retry.tasks["transform"]["script_args"]["--INPUT_KEY"] == "incoming/{{ macros.ds_add(ds, -1) }}.csv"
    assert retry.reasons == () and retry.calls == {"function_name", "job_name"} and retry.dag_id == "late_input_retry"


def test_a_file_for_provisioned_stacks_only_is_named_with_every_reason(tmp_path: Path):
    (audit,) = load(tmp_path, {"audit_marker.yaml": TEAM_WORKFLOWS["audit_marker.yaml"]})
    assert audit.reasons == (
        "DAG audit_marker: catchup is ignored by MWAA Serverless; remove it",
        "DAG audit_marker: tags is ignored by MWAA Serverless; remove it",
        "task mark: operator 'airflow.providers.standard.operators.empty.EmptyOperator' is not on the service's allowlist "
        "(serverless/operators.json)",
    )


def test_what_the_workflow_role_cannot_serve_is_a_reason(tmp_path: Path):
    other_function = LAMBDA_ONLY.replace("${PIPELINE_LAMBDA_FUNCTION_NAME}", "someone-elses-function").replace("ping:", "other:")
    s3 = "airflow.providers.amazon.aws.operators.s3.S3CreateObjectOperator"
    copy = f'copy:\n  tasks:\n    put:\n      operator: {s3}\n      s3_key: "s3://b/k"\n      data: "x"\n'
    two = LAMBDA_ONLY.replace("ping:", "first:") + LAMBDA_ONLY.replace("ping:", "second:")
    listed = LAMBDA_ONLY.replace("ping:", "listed:").replace("  tasks:", "  default_args: [owner]\n  tasks:")
    files = {"other.yaml": other_function, "copy.yaml": copy, "two.yaml": two, "listed.yaml": listed}
    found = {w.file.rsplit("/", 1)[1]: w for w in load(tmp_path, files)}
    assert found["other.yaml"].reasons == (
        "task ask: function_name 'someone-elses-function' is not this stack's (mwaa-platform-dev-validate-input, "
        "${PIPELINE_LAMBDA_FUNCTION_NAME}): a lite workflow's role may call only the stack's own function and job",
    )
    assert found["copy.yaml"].reasons == (
        "task put: S3CreateObjectOperator needs AWS permissions a lite workflow's role doesn't get (it may invoke the stack's "
        "Lambda function and run its Glue job, nothing else)",
    )
    assert found["listed.yaml"].reasons == ("DAG listed: default_args must be a mapping of task arguments",)
    assert found["two.yaml"].dag_id is None
    assert found["two.yaml"].reasons[0].startswith("a definition holds exactly one DAG (the service runs one DAG per file)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LAMBDA_ONLY.replace("PIPELINE_LAMBDA_FUNCTION_NAME", "LAMBDA_NAME"),
         r"\$LAMBDA_NAME is not a placeholder this platform fills; use \$\{PIPELINE_LAMBDA_FUNCTION_NAME\}"),
        ("ping: [unclosed", r"dags/workflows/bad.yaml: not valid YAML"),
        ("- just\n- a list\n", r"dags/workflows/bad.yaml: must map a DAG id to its settings and tasks"),
        (LAMBDA_ONLY.replace("ping:", "lambda_glue_pipeline:"), r"DAG id lambda_glue_pipeline is also dags/lambda_glue_pipeline.py's"),
        (LAMBDA_ONLY.replace("*/30 * * * *", "61 4 * * 1-5"),
         r"dags/workflows/bad.yaml: DAG ping: schedule '61 4 \* \* 1-5' is not a cron expression Airflow accepts"),
    ],
)  # fmt: skip
def test_a_file_broken_in_both_modes_stops_every_stack_before_anything_is_registered(tmp_path: Path, text: str, message: str):
    project = with_workflows(tmp_path, {"bad.yaml": text})
    for stack in ("dev", "lite"):
        with pytest.raises(Exception, match=message) as caught:
            run_stack(stack, project_dir=project)
        assert type(caught.value).__name__ == "ConfigError" and caught.value.recorded == []


def test_a_provisioned_stack_needs_dag_factory_in_its_requirements(tmp_path: Path):
    project = with_workflows(tmp_path, {"ping.yaml": LAMBDA_ONLY}, dag_factory=False)
    message = r"dagBucket.requirementsFile: requirements.txt must pin dag-factory for dags/workflows/ping.yaml"
    with pytest.raises(Exception, match=message) as caught:
        run_stack("dev", project_dir=project)
    assert "add the line dag-factory==1.1.0" in str(caught.value) and caught.value.recorded == []
    assert run_stack("lite", project_dir=project).of_type(WORKFLOW)  # the service brings its own dag-factory


def test_a_provisioned_stack_uploads_the_files_beside_their_loader(tmp_path: Path):
    project = with_workflows(tmp_path, {"ping.yaml": LAMBDA_ONLY})
    keys = {o.inputs["key"]: o for o in run_stack("dev", project_dir=project).of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert object_body(keys["dags/workflows/ping.yaml"]) == LAMBDA_ONLY.encode()  # as written: the loader sets the names
    assert "dags/load_yaml_workflows.py" in keys and "dags/pipeline_config.json" in keys


def test_the_serverless_stack_deploys_each_file_it_can_run_as_its_own_workflow(tmp_path: Path):
    project = with_workflows(tmp_path, TEAM_WORKFLOWS | {"ping.yaml": LAMBDA_ONLY})
    with mock.patch("pulumi.log.warn") as warn:
        lite = run_stack("lite", project_dir=project)
    names = sorted(w.inputs["name"] for w in lite.of_type(WORKFLOW))
    assert names == ["mwaa-platform-lite", "mwaa-platform-lite-late_input_retry", "mwaa-platform-lite-ping"]
    said = sorted(call.args[0] for call in warn.call_args_list)  # named, never dropped silently
    assert said[0].startswith("dags/workflows/audit_marker.yaml: not run by this serverless stack: DAG audit_marker: catchup")
    assert said[1] == (
        "dags/workflows/ping.yaml: deployed without a missed-run check: it runs at more than 4 times of day; the check covers "
        "up to 4 (one schedule each)"
    )
    # One rule on the service's failure events for the stack: it hears every workflow, so a second would alert twice.
    assert len(lite.of_type("aws:cloudwatch/eventRule:EventRule")) == 1
    definitions = {d.inputs["key"]: yaml.safe_load(object_body(d)) for d in workflow_definitions(lite)}
    ping = definitions["workflows/mwaa-platform-lite-ping.yaml"]
    assert ping["ping"]["tasks"]["ask"]["function_name"] == "mwaa-platform-lite-validate-input"
    workflow = next(w for w in lite.of_type(WORKFLOW) if w.inputs["name"] == "mwaa-platform-lite-ping")
    assert workflow.inputs["definitionS3Location"]["versionId"]  # pinned, as the pack requires
    assert workflow.inputs["tags"] == {"pipeline:runs-per-month": "1460", "pipeline:billed-task-minutes": "1"}
    # Its role calls what its tasks call: the Lambda, not the Glue job.
    policy = json.loads(lite.by_name("workflow-ping-execution-policy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["DagInvokesLambda", "WriteOwnLogGroup"]
    retry = json.loads(lite.by_name("workflow-late_input_retry-execution-policy").inputs["policy"])
    assert [s["Sid"] for s in retry["Statement"]] == ["DagInvokesLambda", "DagRunsGlueJob", "WriteOwnLogGroup"]
    assert lite.outputs["yaml_workflow_arns"].keys() == {"late_input_retry", "ping"}


def test_runs_a_month_from_the_cron_as_the_service_reads_it(tmp_path: Path):
    weekdays, every_five = LAMBDA_ONLY.replace("*/30 * * * *", "0 12 * * 1-5"), LAMBDA_ONLY.replace("*/30 * * * *", "*/5 * * * *")
    found = load(tmp_path, {"a.yaml": weekdays, "b.yaml": every_five.replace("ping:", "pong:")})
    # 261 weekdays in 2026, over 365 days, times 30.42 days a month; 12 an hour times 730 hours
    assert [yaml_workflows.runs_per_month(w) for w in found] == [21.75, 8760.0]


def test_the_loader_dag_sets_the_placeholders_the_program_fills():
    loader = Path(yaml_workflows.__file__).parent / "dags" / yaml_workflows.LOADER_DAG_FILE
    assigned = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(loader.read_text()).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PLACEHOLDER_KEYS"
    }
    assert assigned["PLACEHOLDER_KEYS"] == yaml_workflows.PLACEHOLDER_KEYS
    assert set(yaml_workflows.placeholders(fixture_settings())) == {f"PIPELINE_{k.upper()}" for k in yaml_workflows.PLACEHOLDER_KEYS}


def test_each_deployed_workflow_gets_a_missed_run_check_at_its_deadline(tmp_path: Path):
    """The stack's missed-run function checks a team workflow too: a schedule at each run's deadline, in UTC as the
    service reads the cron, sends the workflow; the function may list that workflow's runs and no other's."""
    lite = run_stack("lite", project_dir=with_workflows(tmp_path, TEAM_WORKFLOWS))
    schedule = lite.by_name("missed-run-late_input_retry-schedule").inputs
    # 12:00 UTC plus every task's timeout, retries and delays in sequence (2 x 60 s + 3 x 300 s; 2 x 120 s + 3 x 2400 s)
    # and 15 minutes to start: 158 minutes.
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == ("cron(38 14 ? * MON,TUE,WED,THU,FRI *)", "UTC")
    arn = lite.outputs["yaml_workflow_arns"]["late_input_retry"]
    assert json.loads(schedule["target"]["input"]) == {
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "workflow": {"name": "mwaa-platform-lite-late_input_retry", "arn": arn, "deadline_minutes": 158,
                     "run_minutes_of_week": [720, 2160, 3600, 5040, 6480]},
    }  # fmt: skip
    policy = json.loads(lite.by_name("missed-run-function-access").inputs["policy"])
    listing = next(s for s in policy["Statement"] if s["Sid"] == "ListTeamWorkflowRuns")
    assert (listing["Action"], listing["Resource"]) == (["airflow-serverless:ListWorkflowRuns"], [arn])
    function = lite.by_name("missed-run-function").inputs
    pipeline = lite.by_name("serverless-workflow").inputs["tags"]["pipeline:runs-per-month"]
    assert float(function["tags"]["pipeline:runs-per-month"]) == pytest.approx(float(pipeline) + 21.75)  # one check a run
    assert "data/mwaa-serverless/2024-07-26/service-2.json" in function["code"].assets  # the model travels with the code


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("30 23 * * 1-5", ("cron(8 2 ? * TUE,WED,THU,FRI,SAT *)",)),  # past midnight: the next day
        ("0 6,18 * * *", ("cron(38 8 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)", "cron(38 20 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)")),
        ("0 6 1 * *", "its schedule '0 6 1 * *' names days of the month or months; the check covers weekly schedules"),
    ],
)
def test_a_deadline_follows_the_cron_in_utc(tmp_path: Path, cron: str, expected):
    (retry,) = load(tmp_path, {"late_input_retry.yaml": TEAM_WORKFLOWS["late_input_retry.yaml"].replace("0 12 * * 1-5", cron)})
    check = yaml_workflows.run_check(retry)
    assert (check if isinstance(check, str) else check.crons) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("odd:\n  tasks: [check, transform]\n", "DAG odd: needs a `tasks` mapping of task id to operator arguments"),
        ("odd:\n  tasks: {check: 5}\n", "task check: must be a mapping of operator arguments"),
        (f"odd:\n  tasks: {{1: {{operator: {LAMBDA}}}}}\n", "task 1: function_name None is not this stack's"),  # a number as id
        (f"odd:\n  tasks: {{t: {{operator: {LAMBDA}, dependencies: 5}}}}\n", "task t: dependencies must be a list of task ids"),
    ],
)
def test_a_malformed_file_is_a_reason_for_lite_never_a_crash(tmp_path: Path, text: str, reason: str):
    (odd,) = load(tmp_path, {"odd.yaml": text})
    assert any(r.startswith(reason) for r in odd.reasons), odd.reasons
