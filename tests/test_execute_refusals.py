"""Issue 12 item 17: ``execute`` says why a channel is paused, with the provider's code; ``execute``,
``retry`` and ``reconcile`` with ``--json`` answer every refusal — usage ones included — with a JSON
error object on stdout, the ``error:`` line on stderr and the documented exit code."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from freezegun import freeze_time

from autopilot_cli.cli import app

from .conftest import NOW
from .fake_graph import FakeGraph, fake_graph, graph_error
from .test_execute import schedule


@pytest.mark.parametrize("args", [
    ["retry"],                          # neither ids nor --failed
    ["retry", "1", "--failed"],         # both
    ["reconcile", "1"],                 # ids without a decision
    ["reconcile", "1", "--sent", "--cancel"],
    ["reconcile", "--sent"],            # a decision without ids
])
def test_retry_and_reconcile_usage_refusals_are_json_error_objects(store, runner, args) -> None:
    result = runner.invoke(app, ["--db", store.path, *args, "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "usage_error" and error["exit_code"] == 2
    assert error["message"] and error["message"] in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    without = runner.invoke(app, ["--db", store.path, *args])
    assert without.exit_code == 2 and without.stdout == ""  # no JSON unless asked for


def test_execute_json_refusal_is_a_json_error_object(store, tmp_path, runner, monkeypatch) -> None:
    monkeypatch.setenv("UNSUB", "short")
    conf = tmp_path / "autopilot.toml"
    conf.write_text('[server]\npublic_url = "https://hooks.example.com"\nunsubscribe_secret_env = "UNSUB"\n')
    result = runner.invoke(app, ["--db", store.path, "--config", str(conf), "execute", "--json"])
    assert result.exit_code == 3, result.output
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["exit_code"]) == ("config_error", 3)
    assert "unsubscribe secret must be at least" in error["message"]
    assert "short" not in result.stdout + result.stderr  # the value itself is never shown


@pytest.mark.parametrize(("code", "status", "message", "why"), [
    (190, 401, "Error validating access token: Session has expired", "access token expired or invalid"),
    (200, 403, "(#200) Permissions error", "(#200) Permissions error"),
])
def test_execute_names_why_a_channel_is_paused_with_the_provider_code(store, runner, tmp_path, monkeypatch,
                                                                      fake_graph: FakeGraph, code, status,
                                                                      message, why) -> None:
    schedule(store, "When are you open?", channel="whatsapp", sender="+4915123456789")
    fake_graph.script.append(graph_error(code, message, status=status))
    monkeypatch.setenv("WA_TOKEN_P", fake_graph.token)
    conf = tmp_path / "wa.toml"
    conf.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1064"\ntoken_env = "WA_TOKEN_P"\n'
                    f'base_url = "{fake_graph.url}"\n')
    base = ["--db", store.path, "--config", str(conf)]
    with freeze_time(NOW + timedelta(minutes=1)):
        first = runner.invoke(app, [*base, "execute", "--json"])
        later = runner.invoke(app, [*base, "execute"])  # reads the reason stored when it paused
    assert first.exit_code == later.exit_code == 7, first.output
    reason = json.loads(first.stdout)["paused_reasons"]["whatsapp"]
    assert reason.startswith(why) and message.split(": ")[-1] in reason
    assert f"code {code}" in reason or f"(#{code})" in reason
    assert f"channel whatsapp is paused: {reason}; fix it, then: autopilot channels resume whatsapp" in later.stderr
    assert len(fake_graph.requests) == 1  # the later run sent nothing to a paused channel
