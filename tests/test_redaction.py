"""Issue 12 H4: a provider error that echoes a secret — raw, URL-encoded, base64, hex, inside a longer
encoded value, or cut by a length limit — is never stored, reported or printed.

End to end: the real CLI (``execute``, ``execute --json``) sends through the real WhatsApp adapter
(real httpx) to a loopback fake Graph whose error answers echo the access token and the app
secret; the whole database file, stdout and stderr are then searched for any piece of them.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from freezegun import freeze_time

from autopilot_cli.cli import app
from autopilot_cli.config import config_from_dict
from autopilot_cli.db.connection import table_names
from autopilot_cli.secrets import Redactor, Secrets, secret_env_names

from .conftest import NOW
from .fake_graph import FakeGraph, FakeReply, fake_graph, graph_error
from .test_execute import schedule

# Chosen so that standard and URL-safe base64 differ ('+', '/' against '-', '_'), the base64 is
# padded, and URL-encoding changes it.
TOKEN = "EAAG~tok?en>>/x+y=z&w_9f3Qa"
APP_SECRET = "app-secret>>?~0d9c8b7a6f5e"
WINDOW = 10  # no run of this many characters of a secret's spelling may survive


def _b64(data: bytes) -> list[str]:
    return [base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()]


def echoes(secret: str) -> list[str]:
    """Ways a provider might write ``secret`` back, built here independently of the code under test."""
    raw = secret.encode()
    once = quote(secret, safe="")
    spellings = [secret, once, quote(secret), quote_plus(secret), once.lower(), quote(once, safe=""),
                 raw.hex(), raw.hex().upper()]
    for encoded in _b64(raw):
        spellings += [encoded, encoded.rstrip("="), quote(encoded, safe="")]
    # Inside a longer encoded value, at each of the three byte alignments: an Authorization header
    # ("Bearer " is 7 bytes), SMTP AUTH PLAIN ("\0user\0" is 6) and one more byte.
    for prefix in (b"Bearer ", b"\0user\0", b"\0ab\0"):
        spellings += _b64(prefix + raw)
    return spellings


def secret_pieces(secret: str) -> set[str]:
    """Every WINDOW-character run that only the secret determines, in every spelling above."""
    raw = secret.encode()
    texts = [secret, quote(secret, safe=""), raw.hex()] + _b64(raw)
    for prefix in (b"Bearer ", b"\0user\0", b"\0ab\0"):
        for encoded in _b64(prefix + raw):
            # Skip the characters that carry prefix bits and the last group (padding, next bytes).
            texts.append(encoded[4 * (len(prefix) // 3 + 1): -4])
    return {text[i:i + WINDOW].lower() for text in texts for i in range(len(text) - WINDOW + 1)}


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return sorted(piece for secret in (TOKEN, APP_SECRET) for piece in secret_pieces(secret) if piece in lowered)


def whole_database(store) -> str:
    """Every table's every row, as text (jobs, channel_state, audit_log, events …)."""
    return "\n".join(repr(tuple(row)) for table in table_names(store)
                      for row in store.query(f'SELECT * FROM "{table}"'))


def provider_answers() -> list[FakeReply]:
    """One failed send per echo: a Graph error (JSON), and a bare 400 body with the token just past
    the first 190 characters (where an early cut used to leave its start)."""
    replies = [graph_error(100, f"(#100) Invalid parameter near {echo}") for echo in echoes(TOKEN)]
    replies += [graph_error(100, f"(#100) Invalid parameter near {echo}") for echo in echoes(APP_SECRET)]
    replies.append(FakeReply(status=400, body=("x" * 190 + " " + TOKEN + " trailing").encode()))
    return replies


def _config(tmp_path: Path, url: str) -> Path:
    conf = tmp_path / "wa.toml"
    conf.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1064"\ntoken_env = "WA_TOKEN_R"\n'
                    f'app_secret_env = "WA_SECRET_R"\nbase_url = "{url}"\nrate_per_second = 1000\n')
    return conf


@pytest.mark.parametrize("as_json", [True, False])
def test_a_provider_echoing_secrets_in_any_spelling_leaves_no_trace(store, runner, tmp_path, monkeypatch,
                                                                  fake_graph: FakeGraph, as_json: bool) -> None:
    answers = provider_answers()
    senders = [f"+49151234{n:05d}" for n in range(len(answers))]
    for sender in senders:
        schedule(store, "When are you open?", channel="whatsapp", sender=sender)
    fake_graph.token = TOKEN
    fake_graph.script.extend(answers)
    monkeypatch.setenv("WA_TOKEN_R", TOKEN)
    monkeypatch.setenv("WA_SECRET_R", APP_SECRET)
    conf = _config(tmp_path, fake_graph.url)
    with freeze_time(NOW + timedelta(minutes=1)):
        result = runner.invoke(app, ["--db", store.path, "--config", str(conf), "execute",
                                     *(["--json"] if as_json else [])])
    assert result.exit_code == 7, result.output
    # Every answer was a real refusal of a request that carried the token.
    assert len(fake_graph.requests) == len(answers) and all(r.authorized for r in fake_graph.requests)
    errors = [r[0] for r in store.query("SELECT error FROM jobs WHERE state = 'failed'")]
    assert len(errors) == len(answers)
    assert all("[redacted]" in error for error in errors), errors
    if as_json:
        report = json.loads(result.stdout)
        assert report["failed"] == len(answers)
    else:
        assert result.stderr.count("[redacted]") == len(answers)
    assert leaks(whole_database(store)) == []
    assert leaks(result.stdout) == [] and leaks(result.stderr) == []


def test_a_paused_channel_reason_never_carries_a_secret(store, runner, tmp_path, monkeypatch,
                                                        fake_graph: FakeGraph) -> None:
    """The reason is stored in channel_state and printed by every later run: it is cleaned too."""
    schedule(store, "When are you open?", channel="whatsapp", sender="+4915123456789")
    fake_graph.token = TOKEN
    bearer = base64.b64encode(f"Bearer {TOKEN}".encode()).decode()
    fake_graph.script.append(graph_error(190, f"Error validating access token {bearer} for app {APP_SECRET}",
                                         status=401))
    monkeypatch.setenv("WA_TOKEN_R", TOKEN)
    monkeypatch.setenv("WA_SECRET_R", APP_SECRET)
    conf = _config(tmp_path, fake_graph.url)
    base = ["--db", store.path, "--config", str(conf)]
    with freeze_time(NOW + timedelta(minutes=1)):
        first = runner.invoke(app, [*base, "execute", "--json"])
        again = runner.invoke(app, [*base, "execute"])
        listing = runner.invoke(app, [*base, "channels", "--json"])
    assert first.exit_code == again.exit_code == 7, first.output
    reason = json.loads(first.stdout)["paused_reasons"]["whatsapp"]
    assert reason.startswith("access token expired or invalid") and "[redacted]" in reason
    assert "channel whatsapp is paused: access token expired or invalid" in again.stderr
    assert "[redacted]" in again.stderr
    for text in (first.stdout, first.stderr, again.stdout, again.stderr, listing.stdout,
                 whole_database(store)):
        assert leaks(text) == []


def test_the_redactor_covers_every_secret_the_config_names() -> None:
    config = config_from_dict({
        "channels": {"whatsapp": {"adapter": "whatsapp", "phone_number_id": "1", "token_env": "T1",
                                  "app_secret_env": "S1", "verify_token_env": "V1"},
                     "email": {"adapter": "smtp", "host": "mail.example.org", "from_address": "a@example.org",
                               "username": "a", "password_env": "P1"}},
        "server": {"public_url": "https://x.example.org", "unsubscribe_secret_env": "U1"},
    })
    names = secret_env_names(config)
    assert {"T1", "S1", "V1", "P1", "U1", "OPENAI_API_KEY"} <= names
    values = {name: f"value-of-{name.lower()}-0123456789" for name in names}
    redact = Secrets({**values, "UNRELATED": "not-a-configured-secret"}).redactor(names)
    for value in values.values():
        for echo in echoes(value):
            assert "[redacted]" in redact(f"before {echo} after"), echo
    assert redact("not-a-configured-secret") == "not-a-configured-secret"
    assert "value-of" not in repr(redact)


def test_clip_redacts_before_it_cuts() -> None:
    """A cut made first would leave the start of the secret, which no spelling matches any more."""
    redact = Redactor([TOKEN])
    text = "x" * 490 + TOKEN
    clipped = redact.clip(text, 500)
    assert len(clipped) <= 500 and TOKEN[:5] not in clipped
    assert Redactor([])(text) == text and not Redactor(["abc"])  # too short to redact safely
