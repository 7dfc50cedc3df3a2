"""docker-compose.yml stays valid and consistent with the code (Docker's engine does not run here)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from faceage_cli import main
from service.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_docker_compose_validates_the_file():
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


def test_the_stack_has_its_services_with_health_checks(compose):
    services = compose["services"]
    assert {"redis", "postgres", "migrate", "web", "worker", "worker-cpu"} <= set(services)
    for name in ("redis", "postgres", "web"):
        assert "healthcheck" in services[name], name
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["migrate"]["command"] == ["faceage", "db", "upgrade"]
    for name in ("web", "worker", "worker-cpu"):  # a killed web app or worker is started again
        assert services[name]["restart"] == "unless-stopped", name


def test_every_faceage_command_it_runs_exists(compose):
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command[:1] != ["faceage"]:
            continue
        options = [part for part in command[1:] if not part.startswith("-") and not part.isdigit()]
        done = CliRunner().invoke(main, [*options, "--help"])
        assert done.exit_code == 0, f"{name}: faceage {' '.join(options)} does not exist"


def test_every_variable_it_sets_is_one_the_code_reads(compose):
    known = set(Settings().documented())
    for name, service in compose["services"].items():
        for variable in service.get("environment") or {}:
            if variable.startswith("FACEAGE_"):
                assert variable in known, f"{name} sets {variable}, which the code does not read"


def test_the_web_command_names_the_real_app_factory(compose):
    target = next(part for part in compose["services"]["web"]["command"] if part.endswith("()"))
    module, factory = re.match(r"([\w.]+):(\w+)\(\)", target).groups()
    assert callable(getattr(__import__(module, fromlist=[factory]), factory))


def test_the_image_copies_every_package_of_the_project():
    """A package the image lacks fails only when the container imports it (curation did, once)."""
    copied = set(re.findall(r"^COPY (\w+) ", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"scripts"} | {"migrations"}  # not benchmarks
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
