"""`bin/offline ui`, used as a person uses it (offline/local_ui.py).

The printed URL is opened in a real browser (Debian's chromium, driven by Selenium through Debian's chromedriver), the
pipeline's DAG is found and triggered, and its success is read from the grid's own tooltips; a screenshot is kept. A
failing run started through the REST API (the README's command) sends its alert to the terminal; an edited DAG file
shows in the UI after the DAG processor's refresh; Ctrl-C, pressed twice, ends every process the UI started, without a
traceback.

It runs on a copy of the project, as a fork is: its dev stack sets `dag_processor.min_file_process_interval` in
`airflowConfigurationOptions` (which MWAA applies as well) to 15 s: the edit shows before the runs end, rather than after MWAA's 30.
One test, in order, since every step needs the one running Airflow (a start costs about 12 CPU-s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from names import PIPELINE_DAG_ID
from offline.local_ui import process_tree, rest
from offline.stacks import PROJECT_DIR
from tests.clikit import offline
from tests.stackkit import copy_project

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
#: Where the screenshot is kept (CI's log names it); README's docs/local-ui.png is a copy of one.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", PROJECT_DIR / ".cache" / "test-artifacts"))
#: The flags Chromium needs here: headless as root, and no background traffic (this machine reaches no outside host).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1400,800",
)  # fmt: skip


class Terminal:
    """What the UI prints, line by line, read as it comes."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.2)
        raise AssertionError(f"the UI never printed {pattern!r} in {timeout} s; it printed:\n" + "\n".join(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]}


def listening(pids: set[int]) -> set[str]:
    """host:port of every TCP socket the processes listen on (Linux's /proc/net/tcp and tcp6, state 0A = LISTEN)."""
    inodes = set()
    for pid in pids:
        with_fds = Path(f"/proc/{pid}/fd")
        for fd in with_fds.glob("*") if with_fds.exists() else []:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                address, port = fields[1].split(":")
                host = ".".join(str(b) for b in reversed(bytes.fromhex(address))) if len(address) == 8 else f"[{address}]"
                found.add(f"{host}:{int(port, 16)}")
    return found


def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("OFFLINE_BROWSER_REQUIRED"):  # .ci/run installs both: there a missing browser is a failure
            pytest.fail("chromium and chromedriver are required here (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium and chromedriver on this machine (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # Debian's driver: Selenium Manager downloads nothing


def trigger_and_see_success(driver, url: str) -> str:
    """A person's path: the printed URL, the Dags page, the DAG, Trigger, Trigger; then the run's cells in the grid,
    whose tooltips say each task's state. Returns the run's id."""
    from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # The pages re-render as their data arrives: an element replaced between finding and clicking is found again.
    wait = WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException, ElementClickInterceptedException))

    def click(locator: tuple[str, str]) -> None:
        wait.until(lambda driver: ec.element_to_be_clickable(locator)(driver) and (driver.find_element(*locator).click() or True))

    driver.get(url)
    click((By.CSS_SELECTOR, "[data-testid='nav-dags-link']"))
    click((By.LINK_TEXT, PIPELINE_DAG_ID))
    click((By.CSS_SELECTOR, "[data-testid='trigger-dag-button']"))
    click((By.XPATH, "//*[@role='dialog']//button[normalize-space()='Trigger']"))

    def states(driver) -> dict[str, str] | bool:
        """task -> state, from each cell's own tooltip, once every cell of the run says Success. A tooltip opens when
        the pointer enters its cell, so the pointer leaves (to the sidebar) before each."""
        found = {}
        for cell in driver.find_elements(By.CSS_SELECTOR, "a[data-testid^='grid-manual__']"):
            ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, "[data-testid='nav-sidebar']")).perform()
            ActionChains(driver).move_to_element(cell).perform()
            tooltip = cell.find_element(By.XPATH, "..").get_attribute("id").replace(":trigger", ":content")
            text = WebDriverWait(driver, 5).until(lambda driver, tooltip=tooltip: driver.find_element(By.ID, tooltip).text)
            found[re.search(r"Task ID: (\S+)", text).group(1)] = re.search(r"State: (\S+)", text).group(1)
        return found if len(found) == 2 and set(found.values()) == {"Success"} else False

    # The UI opens the run's page after Trigger; its header's badge says the run's state: wait for Success there (a
    # hover each second re-renders a tooltip, which costs the browser more CPU than the whole run), then read the cells.
    # The grid re-renders as the run moves on: a cell read while it is replaced is read again at the next look.
    settled = WebDriverWait(driver, 120, poll_frequency=1, ignored_exceptions=(StaleElementReferenceException,))
    badge = (By.CSS_SELECTOR, "[data-testid='header-card'] [data-testid='state-badge']")
    settled.until(lambda driver: any(b.text in ("Success", "Failed") for b in driver.find_elements(*badge)))
    found = settled.until(states)
    assert found == {"validate_input": "Success", "transform": "Success"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "local-ui.png"))
    cell = driver.find_element(By.CSS_SELECTOR, "a[data-testid^='grid-manual__']").get_attribute("data-testid")
    return re.match(r"grid-(manual__\S+?)-(validate_input|transform)$", cell).group(1)


def test_the_terminal_shows_an_alert_by_its_first_line_and_an_event_by_its_run() -> None:
    from offline.local_ui import headline

    assert headline("Task transform of DAG d failed on try 1 for logical date 2026-12-06.\nError: ...") == (
        "Task transform of DAG d failed on try 1 for logical date 2026-12-06."
    )
    event = {"detail-type": "MWAA Serverless Workflow Run Failed", "resources": ["arn:wf"], "detail": {"runId": "r", "status": "FAILED"}}
    assert headline(json.dumps(event)) == "MWAA Serverless Workflow Run Failed: r FAILED (arn:wf)"
    assert headline('{"other": "json"}') == '{"other": "json"}'  # any other message: its first line, as it came


def test_a_stack_without_a_stack_file_is_one_error_before_anything_starts() -> None:
    done = offline("ui", "staging")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "Pulumi.staging.yaml not found; stacks here: dev, " in done.stderr
    assert "starting" not in done.stdout


@pytest.mark.long
@pytest.mark.browser
def test_a_person_triggers_the_pipeline_in_a_browser_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    driver = browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    project = copy_project(tmp_path)
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["mwaa-platform:mwaa"]["airflowConfigurationOptions"] = {"dag_processor.min_file_process_interval": 15}
    stack_file.write_text(yaml.safe_dump(document))
    command = [sys.executable, "-m", "offline", "ui", "dev", "--no-retries", "--project", str(project)]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    terminal = Terminal(process)
    try:
        url = terminal.wait_for(r"is ready at (http://127\.0\.0\.1:\d+) ", 240).group(1)
        assert rest(url, f"dags/{PIPELINE_DAG_ID}")["is_paused"] is False
        # Every login is an admin, so nothing it starts may listen beyond the loopback address (no log servers either).
        sockets = listening(process_tree(process.pid) | {process.pid})
        assert url.removeprefix("http://") in sockets and all(s.startswith("127.") for s in sockets), sockets

        # An edit to a DAG file: uploaded as by `pulumi up`, shown after the DAG processor's refresh (checked below).
        dag_file = project / "dags" / "lambda_glue_pipeline.py"
        dag_file.write_text(dag_file.read_text().replace('description=f"Input check', 'description=f"Edited here: input check'))

        try:
            run_id = trigger_and_see_success(driver, url)
        except Exception:
            driver.save_screenshot(str(ARTIFACTS / "local-ui-failure.png"))  # what the browser showed when it gave up
            raise
        finally:
            driver.quit()  # the browser's part is done (its page would go on refreshing): the rest is the terminal and the API
        terminal.wait_for(rf"run {re.escape(run_id)} of {PIPELINE_DAG_ID}: success", 30)

        # A failing day through the REST API: the Glue job fails on bad input; its alert is read back from the topic.
        bad_day = terminal.wait_for(r"trigger with logical date (\S+) \(bad input", 1).group(1)
        rest(url, f"dags/{PIPELINE_DAG_ID}/dagRuns", {"logical_date": f"{bad_day}T12:00:00Z"})
        alert = terminal.wait_for(rf"alert: Task transform of DAG {PIPELINE_DAG_ID} failed on try 1 for logical date {bad_day}", 120)
        assert alert

        terminal.wait_for(r"dags/ changed: uploaded", 30)
        deadline = time.monotonic() + 60
        while not rest(url, f"dags/{PIPELINE_DAG_ID}/details")["description"].startswith("Edited here"):
            assert time.monotonic() < deadline, "the edited DAG never showed in the UI"
            time.sleep(1)
    finally:
        if driver.service.is_connectable():  # a step before the browser's failed: it is still open
            driver.quit()
        started = process_tree(process.pid)
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends; an impatient second one must not cut the stop short
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
    assert code == 0, terminal.text
    assert "stopped: every process the UI started has ended" in terminal.text
    assert "Traceback" not in terminal.text, terminal.text
    assert len(started) >= 4, started  # the four components, at least
    assert not alive(started), f"left running after Ctrl-C: {sorted(alive(started))}"


def test_a_failed_run_of_a_team_workflow_is_that_workflows_event(tmp_path: Path) -> None:
    """lite's UI runs every definition it deploys; a failed run puts the service's failure event for its own workflow,
    naming the run, as MWAA Serverless would (the stack's one rule delivers it to the topic)."""
    import botocore.session
    from botocore.stub import Stubber

    from offline.harness import run_stack
    from offline.local_ui import LocalUi
    from offline.stacks import stack_settings
    from tests.fork.apply import TEAM_WORKFLOWS

    project = copy_project(tmp_path)
    (project / "dags" / "workflows").mkdir(exist_ok=True)
    (project / "dags" / "workflows" / "late_input_retry.yaml").write_text(TEAM_WORKFLOWS["late_input_retry.yaml"])
    ui = LocalUi.__new__(LocalUi)  # what the method reads, without starting Airflow
    ui.run, ui.settings = run_stack("lite", project_dir=project), stack_settings("lite", project)
    arn = ui.run.outputs["yaml_workflow_arns"]["late_input_retry"]
    events = botocore.session.get_session().create_client("events", region_name="us-east-1")
    ui.aws = SimpleNamespace(client=lambda service: events)
    detail = {"workflowArn": arn, "runId": "manual__2026-12-07", "status": "FAILED"}
    entry = {"Source": "aws.airflow-serverless", "DetailType": "MWAA Serverless Workflow Run Failed", "Detail": json.dumps(detail),
             "Resources": [arn]}  # fmt: skip
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": [entry]})
        ui._workflow_failed("late_input_retry", {"dag_run_id": "manual__2026-12-07", "logical_date": "2026-12-07T12:00:00Z"})
        stub.assert_no_pending_responses()
