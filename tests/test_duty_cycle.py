"""The duty cycle: windows, the one running/paused decision, what a pause removes and keeps, the pack, cost, the scheduler."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from duty_cycle import DutyCycle, Window, decision_time
from offline.gate import run_gate, stack_pack_config
from offline.harness import StackRun, run_stack
from offline.stacks import PROJECT_DIR, stack_names, stack_settings
from policies.rules.library import cost_model
from policies.rules.library.cost_model import load_pricing
from schedule import WEEK
from settings import ConfigError
from tests.stackkit import PAUSED_AT, RUNNING_AT, fixture_settings, in_priced_region, priced, with_setting
from tests.workflowkit import workflow

ENV = "aws:mwaa/environment:Environment"
#: What bills by the hour, and so what a pause removes (dev has one NAT gateway).
REMOVED_IN_DEV = {
    f"{ENV}::airflow-environment",
    "aws:ec2/natGateway:NatGateway::network-nat-1",
    "aws:ec2/eip:Eip::network-nat-eip-1",
    "aws:ec2/route:Route::network-private-default-1",
    "aws:ec2/route:Route::network-private-default-2",
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cycle_for(pipeline: dict | None = None, **duty_cycle: object) -> DutyCycle:
    """A duty cycle from the code's defaults (the reference schedule, weekdays 10:00 IST), not from a stack file."""
    return DutyCycle.from_settings(fixture_settings(pipeline=pipeline or {}, dutyCycle={"enabled": True, **duty_cycle}))


def keyed(run: StackRun) -> dict[str, object]:
    """Resources by type and name: the part of the URN that must not change across a pause."""
    return {f"{r.type}::{r.name}": r for r in run.resources}


@pytest.fixture(scope="module")
def paused_dev() -> StackRun:
    return run_stack("dev", at=PAUSED_AT)


# --- windows and the decision -------------------------------------------------------


def test_the_windows_come_from_the_pipeline_schedule():
    cycle = cycle_for()
    # 04:30 UTC runs: lead 60 min before; late start 60 + run timeout 120 + margin 15 after.
    assert [str(w) for w in cycle.windows] == [f"{day} 03:30 - {day} 07:45 UTC" for day in ("MON", "TUE", "WED", "THU", "FRI")]
    assert cycle.hours_per_month == round(5 * 4.25 * 730 / 168, 2) == 92.34
    assert cycle.cycles_per_month == 21.73


@pytest.mark.parametrize(
    ("at", "running"),
    [
        ("2026-11-23T03:29:59", False),  # a second before the window
        ("2026-11-23T03:30:00", True),  # the window's start is inside
        ("2026-11-23T07:44:59", True),
        ("2026-11-23T07:45:00", False),  # its end is outside
        ("2026-11-28T04:30:00", False),  # Saturday: no run, no window
    ],
)
def test_window_edges(at: str, running: bool):
    assert cycle_for().running(utc(at)) is running


def test_next_resume_and_pause():
    cycle = cycle_for()
    assert cycle.next_edges(utc("2026-11-27T08:00:00")) == (utc("2026-11-30T03:30:00"), utc("2026-11-30T07:45:00"))  # Fri -> Mon
    assert cycle.next_edges(utc("2026-11-23T05:00:00")) == (utc("2026-11-24T03:30:00"), utc("2026-11-23T07:45:00"))  # inside


def test_a_zone_with_daylight_saving_gets_one_window_covering_both_offsets():
    cycle = cycle_for(pipeline={"timezone": "Europe/London"})
    # 10:00 London is 09:00 UTC in summer and 10:00 UTC in winter.
    assert str(cycle.windows[0]) == "MON 08:00 - MON 13:15 UTC"
    assert cycle.running(utc("2026-07-13T09:00:00")) and cycle.running(utc("2026-01-12T10:00:00"))


def test_explicit_windows_add_to_the_pipeline_windows_and_merge():
    cycle = cycle_for(windows=[{"days": ["MON", "TUE", "WED", "THU", "FRI"], "start": "07:00", "end": "17:00"}])
    assert [str(w) for w in cycle.windows][:1] == ["MON 03:30 - MON 17:00 UTC"]
    assert len(cycle.windows) == 5
    assert cycle.cron_lines() == ["30 3 * * 1,2,3,4,5", "50 3 * * 1,2,3,4,5", "0 17 * * 1,2,3,4,5", "20 17 * * 1,2,3,4,5"]


def test_a_window_past_midnight_on_sunday_wraps_into_monday():
    cycle = cycle_for(windows=[{"days": ["SUN"], "start": "22:00", "end": "04:00"}])
    assert str(cycle.windows[-1]) == "SUN 22:00 - MON 07:45 UTC"  # merged with Monday's pipeline window
    assert cycle.windows[-1].end > WEEK and cycle.running(utc("2026-11-23T01:00:00"))
    assert "0 22 * * 0" in cycle.cron_lines()


def test_windows_covering_the_week_mean_always_on():
    cycle = cycle_for(windows=[{"days": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"], "start": "00:00", "end": "24:00"}])
    assert cycle.always_on and cycle.hours_per_month == 730 and cycle.cron_lines() == []


def test_force_running_keeps_it_up_and_is_priced_as_always_on():
    cycle = cycle_for(forceRunning=True)
    assert cycle.running(PAUSED_AT) and cycle.hours_per_month == 730 and cycle.usage_tags == {}


def test_window_wraps_are_contained_both_ways():
    window = Window(WEEK - 60, WEEK + 60)
    assert window.contains(WEEK - 1) and window.contains(0) and window.contains(59) and not window.contains(60)


BAD = [
    ({"windows": [{"days": ["MON"], "start": "8:00", "end": "17:00"}]}, "mwaa-platform:dutyCycle.windows.0.start: window time '8:00'"),
    ({"windows": [{"days": ["MON"], "start": "08:00", "end": "08:00"}]}, "window 08:00-08:00 is empty"),
    ({"windows": [{"days": [], "start": "08:00", "end": "17:00"}]}, "dutyCycle.windows.0.days: must list one or more distinct days"),
    ({"leadMinutes": 10}, "mwaa-platform:dutyCycle.leadMinutes: Input should be greater than or equal to 30"),
    ({"enable": True}, "mwaa-platform:dutyCycle.enable: unknown setting"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m.split(":")[-1][:30] for _, m in BAD])
def test_bad_duty_cycle_settings_name_the_key_and_register_nothing(change: dict, message: str):
    config = with_setting("dutyCycle", "enabled", True)
    config["mwaa-platform:dutyCycle"].update(change)
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=config)
    assert message in str(caught.value)
    assert caught.value.recorded == []


@pytest.mark.parametrize(("value", "message"), [("tomorrow", "is not an ISO time"), ("2026-11-23T04:30", "has no time zone")])
def test_a_bad_decision_time_is_a_clear_error(value: str, message: str):
    with pytest.raises(ConfigError, match=f"DUTY_CYCLE_AT='{value}' {message}"):
        decision_time({"DUTY_CYCLE_AT": value})


# --- what a pause removes and keeps --------------------------------------------------


def test_a_pause_removes_exactly_what_bills_by_the_hour(dev: StackRun, paused_dev: StackRun):
    running, paused = keyed(dev), keyed(paused_dev)
    assert set(running) - set(paused) == REMOVED_IN_DEV
    assert set(paused) <= set(running)
    assert dev.outputs["environment_state"] == "running" and paused_dev.outputs["environment_state"] == "paused"


def test_everything_kept_is_unchanged_so_nothing_is_replaced(dev: StackRun, paused_dev: StackRun):
    running = keyed(dev)
    for key, kept in keyed(paused_dev).items():
        before = running[key]
        assert (kept.urn, kept.wire, kept.parent, kept.protect) == (before.urn, before.wire, before.parent, before.protect), key
    kept_types = {r.type for r in paused_dev.resources}
    for must_stay in ("aws:s3/bucket:Bucket", "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:ec2/vpc:Vpc",
                      "aws:lambda/function:Function", "aws:glue/job:Job", "aws:sns/topic:Topic", "aws:ec2/securityGroup:SecurityGroup",
                      "aws:ec2/internetGateway:InternetGateway", "aws:ec2/subnet:Subnet", "aws:iam/rolePolicy:RolePolicy"):  # fmt: skip
        assert must_stay in kept_types
    assert len([g for g in paused_dev.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("airflow-logs-")]) == 5


def test_the_resumed_environment_has_the_same_name(dev: StackRun, paused_dev: StackRun):
    resume, _ = DutyCycle.from_settings(stack_settings("dev")).next_edges(PAUSED_AT)  # shipped: Tue 03:30 UTC
    resumed = run_stack("dev", at=resume)
    assert resumed.one(ENV).inputs == dev.one(ENV).inputs
    assert resumed.one(ENV).inputs["name"] == "mwaa-platform-dev" == paused_dev.outputs["environment_name"]


def test_the_environment_waits_for_nat_and_private_default_routes(dev: StackRun):
    env = dev.one(ENV)
    egress = {r.urn for r in dev.resources if r.type == "aws:ec2/natGateway:NatGateway" or r.name.startswith("network-private-default")}
    assert len(egress) == 3 and egress <= set(env.dependencies)


def test_a_push_during_a_paused_window_does_not_resurrect_the_environment(paused_dev: StackRun):
    # A deploy is just `pulumi up` at some time: the same program, the same decision as the scheduler's run.
    again = run_stack("dev", at=PAUSED_AT)
    assert again.of_type(ENV) == [] and sorted(r.urn for r in again.resources) == sorted(r.urn for r in paused_dev.resources)


def test_force_running_resumes_outside_the_windows():
    config = with_setting("dutyCycle", "forceRunning", True)
    assert len(run_stack("dev", config=config, at=PAUSED_AT).of_type(ENV)) == 1


def test_prod_ignores_the_clock(prod: StackRun):
    assert keyed(run_stack("prod", at=PAUSED_AT)).keys() == keyed(prod).keys()


def test_usage_tags_carry_the_active_hours_only_on_what_a_pause_removes(dev: StackRun, prod: StackRun):
    tags = DutyCycle.from_settings(stack_settings("dev")).usage_tags
    assert set(tags) == {"duty-cycle:hours-per-month", "duty-cycle:cycles-per-month"}
    tagged = {f"{r.type}::{r.name}" for r in dev.resources if tags.items() <= (r.inputs.get("tags") or {}).items()}
    assert tagged == REMOVED_IN_DEV - {"aws:ec2/route:Route::network-private-default-1", "aws:ec2/route:Route::network-private-default-2"}
    assert not any("duty-cycle:hours-per-month" in (r.inputs.get("tags") or {}) for r in prod.resources)


# --- the pack ---------------------------------------------------------------------------


def test_the_pack_passes_a_paused_dev_stack():
    paused = run_stack("dev", config=in_priced_region("dev"), at=PAUSED_AT)  # where its budget can be judged
    result = run_gate(paused, *stack_pack_config("dev"))
    assert result.passed and [v.policy for v in result.violations] == ["sns-topic-has-subscriber"]  # advisory in dev


def test_the_pack_blocks_a_paused_prod(prod: StackRun):
    # Both guards switched off by hand, in a priced region (the budget judged in any fork's region).
    config = in_priced_region("prod", "mwaa", "protect", False) | {"mwaa-platform:dutyCycle": {"enabled": True}}
    paused_prod = run_stack("prod", config=config, at=PAUSED_AT)
    result = run_gate(paused_prod, *stack_pack_config("prod"))
    (blocked,) = [v for v in result.violations if v.level == "mandatory"]  # advisories aside (prod's placeholder address)
    assert blocked.policy == "mwaa-pause-allowed" and "its pack config forbids pausing (allowPause: false)" in blocked.message
    running_prod = run_gate(run_stack("prod", config=config, at=RUNNING_AT), *stack_pack_config("prod"))
    (blocked,) = [v for v in running_prod.violations if v.level == "mandatory"]
    assert blocked.policy == "mwaa-pause-allowed" and "is not protected" in blocked.message


# --- cost -------------------------------------------------------------------------------


@pytest.mark.reference
def test_dev_as_configured_is_at_most_60_dollars_and_always_on_is_the_old_bill(dev: StackRun):
    estimate = priced(dev)
    pause_hours = cost_model.pause_minutes(load_pricing()) / 60  # the state's export and the teardown
    assert estimate.active_hours == pytest.approx(92.34 + 21.73 * pause_hours)
    assert estimate.total <= 60 and estimate.total == 56.80
    assert estimate.always_on_total == 395.04


@pytest.mark.reference
def test_prod_is_always_on(prod: StackRun):
    assert priced(prod).total == priced(prod).always_on_total == 433.07  # $431.67, the key and the alarm


def test_a_paused_plan_prices_only_what_is_kept(paused_dev: StackRun):
    estimate = priced(paused_dev)
    assert estimate.active_hours is None
    assert not [i for i in estimate.items if i.name.startswith(("MWAA", "NAT", "Public IPv4"))]


# --- the scheduler -----------------------------------------------------------------------


def duty_cycled_stacks() -> list[str]:
    return [s for s in stack_names() if not DutyCycle.from_settings(stack_settings(s)).always_on]


def test_the_scheduler_fires_at_every_window_edge_of_every_duty_cycled_stack():
    expected = {line for stack in duty_cycled_stacks() for line in DutyCycle.from_settings(stack_settings(stack)).cron_lines()}
    scheduler = workflow("duty-cycle.yml")
    assert {entry["cron"] for entry in scheduler["on"]["schedule"]} == expected
    (job,) = scheduler["jobs"].values()
    assert [entry["stack"] for entry in job["strategy"]["matrix"]["include"]] == duty_cycled_stacks() == ["dev"]


@pytest.mark.parametrize("stack_config_edit", [{}, {"windows": [{"days": ["SAT"], "start": "22:00", "end": "02:00"}]}])
def test_every_edge_is_checked_again_within_30_minutes(stack_config_edit: dict):
    cycle = cycle_for(**stack_config_edit)
    fires = set()
    for line in cycle.cron_lines():
        minute, hour, _, _, days = line.split()
        fires |= {((int(day) - 1) % 7 * 1440 + int(hour) * 60 + int(minute)) for day in days.split(",")}
    for edge in cycle.edges():
        assert edge in fires, edge  # the edge itself
        assert any(0 < (fire - edge) % WEEK <= 30 for fire in fires), f"edge {edge} has no recheck within 30 minutes"


def test_a_window_in_a_zone_with_daylight_saving_covers_both_utc_times():
    cycle = cycle_for(windows=[{"days": ["SAT"], "start": "08:00", "end": "18:00", "timezone": "Europe/Berlin"}])
    # 08:00-18:00 Berlin is 07:00-17:00 UTC in winter and 06:00-16:00 UTC in summer: one window covers both.
    assert "SAT 06:00 - SAT 17:00 UTC" in [str(w) for w in cycle.windows]
    utc = cycle_for(windows=[{"days": ["SAT"], "start": "08:00", "end": "18:00"}])
    assert "SAT 08:00 - SAT 18:00 UTC" in [str(w) for w in utc.windows]


def test_the_scheduler_costs_a_small_share_of_what_the_duty_cycle_saves():
    cycle = DutyCycle.from_settings(stack_settings("dev"))
    minutes = cycle.scheduler_minutes_per_month
    estimate = priced(run_stack("dev", config=in_priced_region("dev"), at=RUNNING_AT))
    saved = estimate.always_on_total - estimate.total
    assert minutes * load_pricing()["github_linux_minute"]["usd"] < 0.10 * saved, (minutes, saved)


def test_the_scheduler_gates_with_the_pack_and_never_overlaps_a_deploy():
    (job,) = workflow("duty-cycle.yml")["jobs"].values()
    up = next(step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@") and step["with"].get("command") == "up")
    assert up["with"]["command"] == "up" and up["with"]["policyPacks"] == "policies"
    assert up["with"]["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert job["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    deploy = workflow("pulumi.yml")["jobs"]["deploy-dev"]
    assert deploy["concurrency"] == {"group": "pulumi-dev", "cancel-in-progress": False}


@pytest.mark.reference
def test_the_duty_cycle_command_prints_windows_edges_and_hours():
    done = subprocess.run(
        [sys.executable, "-m", "offline", "duty-cycle", "--at", "2026-11-27T08:00Z", "--json"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    dev, prod = report["dev"]["duty_cycle"], report["prod"]["duty_cycle"]
    assert (dev["state_at"], dev["next_resume"], dev["next_pause"]) == ("paused", "2026-11-30T03:30:00+00:00", "2026-11-30T07:45:00+00:00")
    assert dev["hours_per_month"] == 92.34
    assert dev["cron"] == ["30 3 * * 1,2,3,4,5", "50 3 * * 1,2,3,4,5", "45 7 * * 1,2,3,4,5", "5 8 * * 1,2,3,4,5"]
    assert prod["always_on"] and prod["hours_per_month"] == 730 and prod["next_resume"] is None


def test_the_settings_weekdays_are_the_schedules():
    """settings.py types them as a Literal (pydantic validates against it); schedule.py, standard library only, lists them
    for the program's and the tools' arithmetic: one order of days, Monday first."""
    import schedule
    import settings

    assert settings.WEEKDAYS == schedule.WEEKDAYS
