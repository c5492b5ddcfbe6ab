"""gunicorn settings: production defaults, and one clear line for a bad environment value."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
VARS = ("PORT", "WORKERS", "THREADS", "KEEPALIVE", "GRACEFUL_TIMEOUT", "TIMEOUT", "LOG_LEVEL", "SCRIPT_NAME")


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name in (*VARS, "ECS_POC_PATH_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", CONF)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_suit_ecs_behind_an_alb(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf.bind == ["0.0.0.0:8000"]
    assert conf.worker_class == "gthread"
    assert conf.keepalive > 60, "must outlive the ALB's 60 s idle timeout"
    assert conf.graceful_timeout < 30, "must finish before ECS's default 30 s stopTimeout"
    assert conf.workers >= 2
    assert conf.accesslog == "-"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, PORT="9000", WORKERS="3", THREADS="8", LOG_LEVEL="WARNING")
    assert conf.bind == ["0.0.0.0:9000"]
    assert (conf.workers, conf.threads, conf.loglevel) == (3, 8, "warning")


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "http"), ("PORT", "0"), ("PORT", "70000"), ("WORKERS", "0"), ("WORKERS", "two"), ("THREADS", "-1")],
)
def test_bad_number_stops_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        load(monkeypatch, **{name: value})
    message = str(exited.value.code)
    assert name in message and repr(value) in message
    assert "\n" not in message


def test_bad_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="LOG_LEVEL"):
        load(monkeypatch, LOG_LEVEL="chatty")


def test_script_name_is_taken_from_gunicorn_and_given_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    load(monkeypatch, SCRIPT_NAME="/pr-12/")
    assert "SCRIPT_NAME" not in os.environ
    assert os.environ["ECS_POC_PATH_PREFIX"] == "/pr-12"


def test_bad_script_name_stops_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="SCRIPT_NAME"):
        load(monkeypatch, SCRIPT_NAME="pr 12")


class TestWorkersFromContainerCpu:
    def fake_cgroup(self, monkeypatch: pytest.MonkeyPatch, conf: ModuleType, files: dict[str, str]) -> None:
        monkeypatch.setattr(conf, "_read", files.get)
        monkeypatch.setattr(conf.os, "sched_getaffinity", lambda _pid: set(range(16)))

    def test_cgroup_v2_quota_wins_over_host_cores(self, monkeypatch: pytest.MonkeyPatch) -> None:
        conf = load(monkeypatch)
        self.fake_cgroup(monkeypatch, conf, {"/sys/fs/cgroup/cpu.max": "150000 100000"})
        assert conf.container_cpus() == 1.5
        assert conf.default_workers(conf.container_cpus()) == 2

    def test_cgroup_v1_quota(self, monkeypatch: pytest.MonkeyPatch) -> None:
        conf = load(monkeypatch)
        files = {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "400000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"}
        self.fake_cgroup(monkeypatch, conf, files)
        assert conf.default_workers(conf.container_cpus()) == 4

    def test_no_quota_falls_back_to_the_cpus_we_are_pinned_to(self, monkeypatch: pytest.MonkeyPatch) -> None:
        conf = load(monkeypatch)
        self.fake_cgroup(monkeypatch, conf, {"/sys/fs/cgroup/cpu.max": "max 100000"})
        assert conf.container_cpus() == 16

    def test_a_quarter_cpu_task_still_gets_two_workers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        conf = load(monkeypatch)
        self.fake_cgroup(monkeypatch, conf, {"/sys/fs/cgroup/cpu.max": "25000 100000"})
        assert conf.default_workers(conf.container_cpus()) == 2

    def test_unparsable_quota_falls_back_instead_of_failing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        conf = load(monkeypatch)
        self.fake_cgroup(monkeypatch, conf, {"/sys/fs/cgroup/cpu.max": "garbage 0"})
        assert conf.container_cpus() == 16
