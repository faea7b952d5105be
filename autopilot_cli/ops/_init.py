"""``autopilot init``: a starter config, knowledge file and database in a folder.

Existing files are kept, unless ``force``: then they are overwritten — and
one that differs from the starter (the operator edited it) is first copied to
``<name>.bak`` (``.bak.1``, ``.bak.2``… if that exists), so ``--force`` never
loses someone's knowledge file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

from pydantic import BaseModel

from ..clock import Clock, to_iso
from ..config import Config, load_config
from ..db.channel_state import replace_credential_references
from ..db.connection import Store
from ..db.migrations import open_store
from ..errors import AutopilotError

CONFIG_NAME = "autopilot.toml"
KNOWLEDGE_NAME = "knowledge.toml"


class InitReport(BaseModel):
    directory: str
    config: str
    knowledge_file: str
    database: str
    created: list[str]
    kept: list[str]
    overwritten: list[str] = []
    backups: list[str] = []
    """Copies of overwritten files that had been edited (``knowledge.toml.bak``…)."""


def template_text(name: str) -> str:
    return resources.files("autopilot_cli").joinpath("templates", name).read_text(encoding="utf-8")


def starter_config(mode: str = "one_click") -> str:
    return Template(template_text(CONFIG_NAME)).substitute(mode=mode)


def _backup_name(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    n = 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.bak.{n}")
    return candidate


def _write_new(path: Path, text: str, report: InitReport, force: bool) -> None:
    existed = path.exists()
    if existed and not force:
        report.kept.append(str(path))
        return
    if existed and path.read_bytes() != text.encode("utf-8"):
        backup = _backup_name(path)
        backup.write_bytes(path.read_bytes())
        report.backups.append(str(backup))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # atomic: never a half-written config
    (report.overwritten if existed else report.created).append(str(path))


def credential_references(config: Config) -> list[tuple[str, str, str]]:
    """(channel, purpose, environment variable) for every secret the config names."""
    refs = []
    for channel, entry in config.channels.items():
        for field, value in entry.model_dump().items():
            if field.endswith("_env") and value:
                refs.append((channel, field.removesuffix("_env"), value))
    return refs


def record_credential_references(store: Store, config: Config, clock: Clock) -> None:
    """Keep ``channel_credentials`` in step with the config: names of variables, never values."""
    replace_credential_references(store, credential_references(config), to_iso(clock.now()))


def init_directory(directory: Path, clock: Clock, *, mode: str = "one_click", force: bool = False,
                   database: str | Path | None = None) -> InitReport:
    """Write starter files (existing ones are kept unless ``force``) and create the database the config
    names, or ``database`` (``--db``, ``AUTOPILOT_DATABASE_URL``) — a file, or a ``postgresql://`` URL whose
    (existing, empty or older) database's schema is brought up to date."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AutopilotError(f"cannot create folder {directory}: {exc.strerror}") from None
    config_path = directory / CONFIG_NAME
    knowledge_path = directory / KNOWLEDGE_NAME
    report = InitReport(directory=str(directory), config=str(config_path), knowledge_file=str(knowledge_path),
                        database="", created=[], kept=[])
    try:
        _write_new(config_path, starter_config(mode), report, force)
        _write_new(knowledge_path, template_text(KNOWLEDGE_NAME), report, force)
    except OSError as exc:
        raise AutopilotError(f"cannot write in {directory}: {exc.strerror}") from None
    config = load_config(config_path)
    target = database if database is not None else config.database_location()
    existed = not isinstance(target, Path) or target.exists()  # a PostgreSQL database exists before init
    with open_store(target, clock, busy_timeout_ms=config.database.busy_timeout_ms) as store:
        record_credential_references(store, config, clock)
        report.database = store.path  # a URL without its password
    (report.kept if existed else report.created).append(report.database)
    return report
