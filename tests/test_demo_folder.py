"""``demo --dir`` only ever writes into a folder it made (issue 12 item 2), through the real console entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def autopilot(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOPILOT_CONFIG", "AUTOPILOT_DB")}
    env["AUTOPILOT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "autopilot_cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_refuses_a_real_shop_and_reuses_only_its_own_folder(tmp_path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    shop = tmp_path / "shop"
    assert autopilot("init", str(shop), cwd=work, home=home).returncode == 0
    inbox = tmp_path / "in.jsonl"
    inbox.write_text(json.dumps({"channel": "email", "id": "m1", "from": "ana@example.org", "text": "Open today?",
                                 "received_at": "2026-11-25T10:00:00Z"}) + "\n")
    assert autopilot("ingest", str(inbox), cwd=shop, home=home).returncode == 0
    before = snapshot(shop)
    assert "autopilot.db" in before
    link = tmp_path / "shop-link"
    link.symlink_to(shop, target_is_directory=True)
    for target in (shop, link, Path(".")):  # by name, through a symlink, and as the current folder
        refused = autopilot("demo", "--dir", str(target), cwd=shop, home=home)
        assert refused.returncode == 1, refused.stderr
        [line] = refused.stderr.splitlines()
        assert line.startswith("error: refusing to run the demo in ") and "pick another --dir" in line
        assert refused.stdout == ""
        assert snapshot(shop) == before  # not a byte, not a timestamp, not a new file
    # A new folder: made and marked; the same folder again: it is the demo's own.
    demo = tmp_path / "demo"
    for _ in range(2):
        result = autopilot("demo", "--dir", str(demo), "--json", cwd=work, home=home)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["database"] == str(demo / "autopilot.db") and report["status"]["config_path"] == str(
            (demo / "autopilot.toml").resolve())
        assert (demo / ".autopilot-demo").is_file()
    assert snapshot(shop) == before
    assert not (home / "autopilot.db").exists()
