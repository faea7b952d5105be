from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from autopilot_cli.config import (
    Config,
    ExperimentConfig,
    VariantConfig,
    _ChannelBase,
    config_from_dict,
    load_config,
)
from autopilot_cli.errors import ConfigError

ROOT = Path(__file__).parent.parent


def test_embedded_defaults_are_offline_and_outbox() -> None:
    config = Config()
    assert config.drafter.kind == "offline"
    assert {name: ch.adapter for name, ch in config.channels.items()} == {
        "whatsapp": "outbox", "email": "outbox", "instagram": "outbox", "linkedin": "outbox",
    }
    assert config.source is None


def test_sample_config_loads_with_its_values() -> None:
    config = load_config(ROOT / "sample_config.toml")
    assert config.autopilot.timezone == "Europe/Berlin"
    assert config.channels["whatsapp"].adapter == "whatsapp"
    assert config.channels["whatsapp"].phone_number_id == "106540352242922"
    assert config.channels["email"].from_address == "Team <team@example.com>"
    assert config.resolve_path(config.database.path) == ROOT / "autopilot.db"


def _all_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _all_keys(annotation)
    return keys


def test_every_config_key_is_documented_in_sample_config() -> None:
    text = (ROOT / "sample_config.toml").read_text()
    keys = _all_keys(Config)
    for model in (*_ChannelBase.__subclasses__(), ExperimentConfig, VariantConfig):
        keys |= set(model.model_fields)
    missing = sorted(k for k in keys if not re.search(rf"\b{k}\b", text))
    assert missing == []


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[autopilot]\ntimezone = "Mars/Phobos"\n', "'autopilot.timezone': 'Mars/Phobos' is not an IANA time zone"),
        ('[autopilot]\nmodee = "auto"\n', "unknown key 'autopilot.modee'"),
        ('[autopilot]\nmode = "yolo"\n', "'autopilot.mode'"),
        ('[autopilot]\nconfidence_threshold = 1.5\n', "'autopilot.confidence_threshold'"),
        ('[database]\nbusy_timeout_ms = "soon"\n', "'database.busy_timeout_ms'"),
        ('[channels.email]\nadapter = "smtp"\n', "missing required key 'channels.email.from_address'"),
        ('[channels.email]\nadapter = "pigeon"\n', "'channels.email.adapter' must be one of"),
        ('[channels.email]\nhost = "x"\n', "'channels.email' needs an 'adapter' key"),
        ('[channels.sms]\nadapter = "outbox"\n', "unknown channel 'sms'"),
        ('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\ntoken = "EAAB-secret"\n',
         "unknown key 'channels.whatsapp.token'"),
        ('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\ntoken_env = "not a name"\n',
         "'channels.whatsapp.token_env'"),
        ("[autopilot\n", "invalid TOML"),
        ('[channels.linkedin]\nadapter = "outbox"\nmode = "auto"\n', "LinkedIn's terms require a member"),
        ('[consent]\nlanguages = ["klingon"]\n', "unsupported language 'klingon'"),
        ('[[experiments]]\nname = "x"\nvariants = [{name = "a", template = "{answer}"}]\n', "'experiments.0.variants'"),
        ('[[experiments]]\nname = "x"\nchannels = ["sms"]\nvariants = [{name = "a", template = "{answer}"}, '
         '{name = "b", template = "Hi {answer}"}]\n', "unknown channel 'sms'"),
        ('[limits]\nper_contact_per_day = 0\n', "'limits.per_contact_per_day'"),
    ],
)
def test_config_errors_name_the_key_and_the_file(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_a_secret_written_into_the_config_is_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\ntoken = "EAAB-very-secret"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "EAAB-very-secret" not in str(info.value)


def test_missing_and_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "a.toml").write_text('[database]\npath = "data/x.db"\n[drafter]\nknowledge_file = "/abs/k.toml"\n')
    config = load_config(sub / "a.toml")
    assert config.resolve_path(config.database.path) == sub / "data" / "x.db"
    assert config.resolve_path(config.drafter.knowledge_file) == Path("/abs/k.toml")


def test_source_cannot_be_set_from_the_file() -> None:
    with pytest.raises(ConfigError, match="unknown key 'source'"):
        config_from_dict({"source": "/etc/passwd"})


def test_linkedin_global_auto_means_one_click() -> None:
    config = config_from_dict({"autopilot": {"mode": "auto"}})
    assert config.mode_for("linkedin") == "one_click"
    assert config.mode_for("email") == "auto"
    per_channel = config_from_dict(
        {"channels": {"email": {"adapter": "outbox", "mode": "assist", "confidence_threshold": 0.5}}}
    )
    assert per_channel.mode_for("email") == "assist"
    assert per_channel.threshold_for("email") == 0.5 and per_channel.threshold_for("whatsapp") == 0.85


@pytest.mark.parametrize("data", [
    {"drafter": {"template": "Hi {nme},\n\n{answer}"}},
    {"drafter": {"template": "Hi there"}},
    {"experiments": [{"name": "x", "variants": [{"name": "a", "template": "{answer} {nme}"},
                                                {"name": "b", "template": "{answer}"}]}]},
])
def test_a_typo_in_a_reply_template_is_a_config_error(data) -> None:
    # A placeholder the renderer does not know would be sent to customers as is.
    with pytest.raises(ConfigError, match="placeholder|must contain"):
        config_from_dict(data, "f.toml")


def test_relative_paths_never_resolve_against_the_current_folder(tmp_path, monkeypatch) -> None:
    """Issue 12 item 11: with no config file, relative paths live under $AUTOPILOT_HOME; with one, beside it."""
    from autopilot_cli.cli._runtime import Runtime

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (elsewhere / "knowledge.toml").write_text("# a stray file in the current folder\n")
    rt = Runtime(environ={"AUTOPILOT_HOME": str(home)})
    assert rt.found_config().path is None
    assert rt.config().resolve_path("knowledge.toml") == home / "knowledge.toml"
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "autopilot.toml").write_text('[drafter]\nknowledge_file = "kb/faq.toml"\n')
    rt = Runtime(environ={"AUTOPILOT_HOME": str(home)}, config_path=shop / "autopilot.toml")
    assert rt.config().resolve_path(rt.config().drafter.knowledge_file) == shop / "kb" / "faq.toml"


def test_discovery_prefers_the_nearest_autopilot_toml_over_home(tmp_path) -> None:
    from autopilot_cli.discovery import find_config

    home = tmp_path / "home"  # made by the autouse fixture
    (home / "autopilot.toml").write_text("")
    outer, inner = tmp_path / "a", tmp_path / "a" / "b" / "c"
    inner.mkdir(parents=True)
    env = {"AUTOPILOT_HOME": str(home)}
    assert find_config(None, env, cwd=inner).path == home / "autopilot.toml"
    (outer / "autopilot.toml").write_text("")
    assert find_config(None, env, cwd=inner).path == (outer / "autopilot.toml").resolve()
    (inner / "autopilot.toml").write_text("")
    assert find_config(None, env, cwd=inner).path == (inner / "autopilot.toml").resolve()
    assert find_config(None, {**env, "AUTOPILOT_CONFIG": "/x.toml"}, cwd=inner).how == "$AUTOPILOT_CONFIG"
    assert find_config("/y.toml", env, cwd=inner).path == Path("/y.toml")
