"""The deployment files, tested where no Docker engine runs: the image's own entry command,
environment, health check and stop signal run here as the container would run them; compose.yaml
and .env.example are read and checked against the settings the bot really has."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement  # pytest's own dependency
from packaging.utils import canonicalize_name
from packaging.version import Version
from sqlalchemy.engine import make_url

from bot.config import VARIABLES, from_env, read_env_file
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, clean_env, free_port, running

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
INTERPOLATION = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)[^}]*\}")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def image_env(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, arguments in steps:
        if word == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


STEPS = instructions(DOCKERFILE.read_text())
FINAL = STEPS[max(i for i, (word, _) in enumerate(STEPS) if word == "FROM"):]


def last(word: str) -> str:
    return [arguments for w, arguments in FINAL if w == word][-1]


def test_the_image_is_multi_stage_runs_as_non_root_and_keeps_data_on_a_volume():
    assert sum(word == "FROM" for word, _ in STEPS) >= 2
    assert any(w == "COPY" and a.startswith("--from=") for w, a in FINAL)
    user = last("USER")
    assert user not in ("root", "0") and user
    assert exec_form(last("VOLUME")) == ["/data"]
    assert last("WORKDIR") == "/data"
    env = image_env(FINAL)
    assert env["CREWBOT_DATABASE_URL"].startswith("/data/")
    assert env["CREWBOT_HEALTH_HOST"] == "0.0.0.0"
    assert all(name in VARIABLES for name in env if name.startswith("CREWBOT_"))
    assert last("STOPSIGNAL") in ("SIGTERM", "SIGINT")


def test_the_build_context_has_the_code_and_no_secrets():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored
    copied = " ".join(a for w, a in STEPS if w == "COPY")
    for needed in ("pyproject.toml", "README.md", "bot", "storage"):
        assert needed in copied and needed not in ignored, needed


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        yield fake


def container_env(tmp_path: Path, tg: FakeTelegram, port: int) -> dict[str, str]:
    """The image's ENV as the container sees it, with /data on tmp_path and a free port, plus
    what the operator's .env adds (a platform token)."""
    env = image_env(FINAL)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {k: v.replace("/data", str(tmp_path)) for k, v in env.items()}
    env["CREWBOT_HEALTH_PORT"] = str(port)
    return clean_env(**env, CREWBOT_TELEGRAM_TOKEN=tg.token,
                     CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"))


async def health_check(command: list[str], env: dict[str, str], cwd: Path) -> int:
    """Docker's HEALTHCHECK command, run here: its exit code."""
    program = [sys.executable if command[0] in ("python", "python3") else command[0],
               *command[1:]]
    proc = await asyncio.create_subprocess_exec(*program, env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    return await asyncio.wait_for(proc.wait(), 30)


async def test_the_image_command_starts_passes_its_health_check_and_stops_on_its_signal(
        tg, tmp_path):
    healthcheck = last("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval" in options and "--timeout" in options
    check = exec_form(command)
    assert "urllib" in " ".join(check) and "curl" not in " ".join(check)
    program = exec_form(last("ENTRYPOINT")) + exec_form(last("CMD"))
    assert program == ["crewbot", "run"]

    env = container_env(tmp_path, tg, free_port())
    assert await health_check(check, env, tmp_path) != 0  # nothing answers before the start
    async with running(program, env, tmp_path) as proc:
        async with asyncio.timeout(60):
            while await health_check(check, env, tmp_path) != 0:
                assert proc.returncode is None, "the bot stopped"
                await asyncio.sleep(0.2)  # polling another process: no event to wait on
        assert (tmp_path / "crewbot.sqlite3").is_file()  # the data is on the volume
        proc.send_signal(getattr(signal, last("STOPSIGNAL")))
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "outcome=stopped" in err.decode()


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def example() -> dict[str, str]:
    names = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=(.*)", line)
        if found:
            names[found[1]] = found[2]
    return names


def test_compose_runs_the_bot_beside_a_healthy_postgres_on_named_volumes():
    spec = compose()
    services = spec["services"]
    db = next(name for name, s in services.items() if s.get("image", "").startswith("postgres"))
    bot = next(name for name, s in services.items() if "build" in s)
    assert services[db]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(services[db]["healthcheck"]["test"])
    assert services[bot]["depends_on"] == {db: {"condition": "service_healthy"}}
    assert services[bot]["env_file"] in (".env", [".env"])
    assert services[bot].get("restart") and services[db].get("restart")
    named = set(spec["volumes"])
    for service in (db, bot):
        sources = {v.split(":")[0] for v in services[service]["volumes"]}
        assert sources and sources <= named, (service, sources)
    published = services[bot]["ports"]
    assert all(str(p).startswith("127.0.0.1:") for p in published)  # health: this host only


def test_compose_points_the_bot_at_its_own_postgres_with_real_setting_names():
    services = compose()["services"]
    db = next(name for name, s in services.items() if s.get("image", "").startswith("postgres"))
    bot = next(name for name, s in services.items() if "build" in s)
    env = services[bot]["environment"]
    assert all(name in VARIABLES for name in env), env
    url = make_url(INTERPOLATION.sub("pw", env["CREWBOT_DATABASE_URL"]))
    pg = services[db]["environment"]
    assert url.drivername.startswith("postgresql")
    assert (url.host, url.port, url.username, url.database) == (
        db, 5432, pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    # The password is one value from .env for both services, never written in compose.yaml.
    assert INTERPOLATION.findall(pg["POSTGRES_PASSWORD"]) == ["POSTGRES_PASSWORD"]
    assert INTERPOLATION.findall(env["CREWBOT_DATABASE_URL"]) == ["POSTGRES_PASSWORD"]


def test_env_example_lists_every_setting_and_every_name_compose_needs():
    listed = example()
    for name in VARIABLES:
        assert name in listed, name
    for name in INTERPOLATION.findall(COMPOSE.read_text()):
        assert name in listed, name
    compose_only = set(INTERPOLATION.findall(COMPOSE.read_text()))  # POSTGRES_PASSWORD, ...
    assert all(n in VARIABLES or n in compose_only for n in listed), listed
    # No secret has a value in the committed file.
    for name, variable in VARIABLES.items():
        if variable.secret:
            assert listed[name] == "", name
    assert listed["POSTGRES_PASSWORD"] == ""


def test_env_example_as_a_settings_file_is_valid(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("CREWBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREWBOT_ENV_FILE", str(ENV_EXAMPLE))
    values, path = read_env_file(dict(os.environ))
    assert path == str(ENV_EXAMPLE)
    assert set(values) == {"CREWBOT_TELEGRAM_TOKEN", "CREWBOT_DISCORD_TOKEN", "POSTGRES_PASSWORD"}
    config = from_env()
    assert config.platforms == [] and config.unknown == ()
    # Each commented value, uncommented, is accepted and is the default (but the port: the
    # endpoint is off unless a port is set, and 8080 is the image's).
    defaults = {n: v for n, v in example().items() if n in VARIABLES and v}
    assert defaults["CREWBOT_HEALTH_PORT"] == image_env(FINAL)["CREWBOT_HEALTH_PORT"]
    assert replace(from_env(defaults), health_port=None) == from_env({})


def test_the_package_builds_without_warnings_and_carries_its_license(tmp_path):
    """What `pip install .` (and the image's build stage) does: no deprecation warning about the
    license, and the MIT license in the wheel's metadata with its text."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    said = built.stdout + built.stderr
    assert "deprecated" not in said.lower() and "license" not in said.lower(), said
    [wheel] = tmp_path.glob("crewbot-*.whl")
    with zipfile.ZipFile(wheel) as files:
        names = files.namelist()
        metadata = files.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "License-Expression: MIT" in metadata.decode().splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names


def test_the_oldest_run_pins_every_dependency_at_its_lower_bound():
    """`python3 dev.py test --oldest` proves the ranges in pyproject.toml only while
    .ci/oldest.txt pins each dependency, runtime and test, at its range's lower bound."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors: dict[str, Version] = {}
    for line in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(line)
        lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{line}: needs one lower bound (>=) for the oldest run"
        floors[canonicalize_name(requirement.name)] = lower[0]
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = Version(version.strip())
    assert pins == floors


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout: nothing to ignore")
def test_git_ignores_what_playing_in_the_clone_leaves_behind():
    """`python3 dev.py run` in the clone writes the database beside it, SQLite's journal files
    while it runs, and the console's pictures: none of it shows up as a change to commit."""
    left = ["crewbot.sqlite3", "crewbot.sqlite3-wal", "crewbot.sqlite3-shm",
            "crewbot.sqlite3-journal", "crewbot-pictures/1-3-leaderboard.png", ".env"]
    checked = subprocess.run(["git", "check-ignore", "--no-index", "--verbose", *left], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    ignored = {line.split("\t")[-1] for line in checked.stdout.splitlines()}
    assert ignored == set(left), checked.stdout + checked.stderr
    kept = subprocess.run(["git", "check-ignore", "--no-index", "bot/cli.py",
                           "docs/pictures/graph.png"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    # The code and the README's sample pictures stay tracked.
    assert (kept.returncode, kept.stdout) == (1, ""), kept.stderr


def test_the_scale_profile_runs_two_bot_processes_behind_a_proxy_that_knows_both():
    services = compose()["services"]
    scaled = {name for name, s in services.items() if "scale" in s.get("profiles", [])}
    bots = [name for name, s in services.items()
            if name not in ("db",) and "crewbot" in str(s.get("image", "")) + str(s.get("build"))]
    assert len(bots) == 2 and set(bots) - scaled  # the plain `up` still runs one bot
    proxy = next(name for name in scaled if name not in bots)
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services[proxy]["volumes"]}
    caddyfile = ROOT / mounts["./deploy/Caddyfile"].replace("/etc/caddy/", "deploy/")
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile.read_text())[1].split()
    assert sorted(upstreams) == sorted(f"{bot}:8443" for bot in bots)
    for bot in bots:  # each listens where the proxy forwards, on the compose database
        env = services[bot]["environment"]
        assert env["CREWBOT_TELEGRAM_WEBHOOK_LISTEN"] == "0.0.0.0:8443"
        assert "@db:5432/" in env["CREWBOT_DATABASE_URL"]
