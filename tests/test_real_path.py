"""What the real `pulumi up` relies on that no mock shows by itself: prod's environment protected, zones MWAA can use,
no object passed to MWAA without a version id, and inputs that a create followed by a refresh reads back unchanged."""

from __future__ import annotations

import copy

import pytest

from components.network import CONSTRAINED_ZONE_IDS
from offline.gate import run_gate, stack_pack_config
from offline.harness import AwsMocks, StackRun, run_stack
from offline.stacks import stack_config
from settings import ConfigError
from tests.stackkit import in_priced_region, with_setting

ENV = "aws:mwaa/environment:Environment"
ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"


# --- prod's environment is protected ------------------------------------------------------


def test_prod_environment_is_protected_and_dev_is_not(dev: StackRun, prod: StackRun):
    assert prod.one(ENV).protect and not dev.one(ENV).protect


def test_a_protected_environment_cannot_be_duty_cycled():
    config = copy.deepcopy(stack_config("prod"))
    config["mwaa-platform:dutyCycle"] = {"enabled": True}
    with pytest.raises(ConfigError, match=r"mwaa-platform: mwaa.protect is true and dutyCycle.enabled is true"):
        run_stack("prod", config=config)


def test_the_pack_requires_protection_where_pausing_is_forbidden():
    config = in_priced_region("prod", "mwaa", "protect", False)  # the budget judged in any fork's region
    result = run_gate(run_stack("prod", config=config), *stack_pack_config("prod"))
    (blocked,) = [v for v in result.violations if v.level == "mandatory"]  # advisories aside (prod's placeholder address)
    assert blocked.policy == "mwaa-pause-allowed" and "Environment 'airflow-environment' is not protected" in blocked.message
    assert run_gate(run_stack("dev", config=with_setting("mwaa", "protect", False)), *stack_pack_config("dev")).passed  # dev may pause


# --- availability zones by zone ID --------------------------------------------------------


def zones_answer(monkeypatch: pytest.MonkeyPatch, names: list[str], ids: list[str]) -> None:
    original = AwsMocks.call

    def call(self, args):
        if args.token == ZONES:
            return {"names": names, "zoneIds": ids, "id": self.region}, []
        return original(self, args)

    monkeypatch.setattr(AwsMocks, "call", call)


def test_subnets_skip_a_constrained_zone_even_when_it_is_listed_first(monkeypatch: pytest.MonkeyPatch):
    zones_answer(monkeypatch, ["us-east-1a", "us-east-1b", "us-east-1c"], ["use1-az3", "use1-az6", "use1-az1"])
    run = run_stack("dev")
    chosen = {s.inputs["availabilityZoneId"] for s in run.of_type("aws:ec2/subnet:Subnet")}
    assert chosen == {"use1-az6", "use1-az1"} and "use1-az3" in CONSTRAINED_ZONE_IDS
    assert all("availabilityZone" not in s.inputs for s in run.of_type("aws:ec2/subnet:Subnet"))  # names differ per account


def test_a_region_without_two_usable_zones_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    zones_answer(monkeypatch, ["us-west-1a", "us-west-1c"], ["usw1-az2", "usw1-az1"])
    with pytest.raises(Exception, match=r"offers 1 availability zone\(s\) MWAA can use \(usw1-az1; left out: usw1-az2\); MWAA needs two"):
        run_stack("dev")


def test_only_available_standard_zones_are_asked_for(monkeypatch: pytest.MonkeyPatch):
    asked = []
    original = AwsMocks.call

    def call(self, args):
        if args.token == ZONES:
            asked.append(args.args)
        return original(self, args)

    monkeypatch.setattr(AwsMocks, "call", call)
    run_stack("dev")
    ((arguments,),) = [asked]
    assert arguments["state"] == "available"  # no Local or Wavelength Zones
    assert arguments["filters"] == [{"name": "zone-type", "values": ["availability-zone"]}]


# --- no empty version id reaches MWAA -----------------------------------------------------


@pytest.mark.parametrize("stored", ["null", ""])
def test_an_object_stored_without_a_version_is_an_error_naming_it_and_the_fix(monkeypatch: pytest.MonkeyPatch, stored: str):
    original = AwsMocks.new_resource

    def unversioned(self, args):
        resource_id, state = original(self, args)
        if args.name == "dags-requirements":
            state["versionId"] = stored  # what S3 returns for an object written before versioning took effect
        return resource_id, state

    monkeypatch.setattr(AwsMocks, "new_resource", unversioned)
    with pytest.raises(
        Exception, match=r"s3://\S+/requirements.txt has no version id .* pulumi up --replace '\S+::dags-requirements'"
    ) as info:
        run_stack("prod")
    assert not [r for r in info.value.recorded if r.type == ENV]  # the environment never got an empty version


# --- no perpetual diff after a create -----------------------------------------------------


def test_worker_replacement_strategy_is_never_sent(each_stack: StackRun):
    # terraform-provider-aws (internal/service/mwaa/environment.go) sends it only on UpdateEnvironment and reads it back
    # from LastUpdate, which a create leaves empty: any value here would diff after every create.
    assert "workerReplacementStrategy" not in each_stack.one(ENV).inputs
    with pytest.raises(ConfigError, match=r"mwaa-platform:mwaa: workerReplacementStrategy is not supported: .* Remove the key"):
        run_stack("dev", config=with_setting("mwaa", "workerReplacementStrategy", "GRACEFUL"))


def test_inputs_are_in_the_form_the_api_reads_back(each_stack: StackRun):
    inputs = each_stack.one(ENV).inputs
    # GetEnvironment returns strings for options, DAY:HH:MM for the window, upper-case levels, ARNs as given.
    assert all(isinstance(v, str) for v in inputs.get("airflowConfigurationOptions", {}).values())
    assert inputs["weeklyMaintenanceWindowStart"] == "SUN:03:00"
    levels = {log["logLevel"] for log in inputs["loggingConfiguration"].values()}
    assert levels <= {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"} and all(
        log["enabled"] for log in inputs["loggingConfiguration"].values()
    )
    assert all(isinstance(v, str) for v in (inputs.get("tags") or {}).values())
    assert "startupScriptS3Path" not in inputs and "pluginsS3Path" not in inputs  # unset, not "", when unused
    assert inputs["dagS3Path"] == "dags" and inputs["requirementsS3Path"] == "requirements.txt"  # no leading slash


def test_configuration_options_from_yaml_scalars_read_back_as_sent():
    config = with_setting("mwaa", "airflowConfigurationOptions", {"core.load_examples": False, "core.default_task_retries": 3})
    inputs = run_stack("dev", config=config).one(ENV).inputs
    assert inputs["airflowConfigurationOptions"] == {"core.load_examples": "false", "core.default_task_retries": "3"}
