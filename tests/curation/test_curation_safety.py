"""Run safety: one run per output folder, disk errors and config errors as one line each."""

import errno
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from curation.config import CurationConfig
from curation.config_errors import ConfigError
from curation.pipeline import run_curation
from curation.run_lock import LOCK_NAME, OutputFolderError, RunLockedError, acquire, output_errors, release

MIDTRAIN = Path(sys.executable).parent / "midtrain"


def _config(tmp_path) -> CurationConfig:
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "one small document"}) + "\n")
    return CurationConfig.model_validate(
        {
            "sources": [{"name": "s", "path": str(tmp_path / "in.jsonl")}],
            "executor": {"tasks": 1, "workers": 1},
        }
    )


def _hold(out: Path, pid: int, host: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))


def _midtrain(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [str(MIDTRAIN), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


# --- one run per folder ---------------------------------------------------------------------


def test_lock_refuses_a_second_run_and_is_released(tmp_path):
    out = tmp_path / "out"
    lock = acquire(out)
    held = json.loads(lock.read_text())
    assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
    with pytest.raises(RunLockedError, match=rf"{out} is in use by another curation run \(pid {os.getpid()}"):
        acquire(out)
    release(lock)
    assert not lock.exists()
    release(acquire(out))  # free again


def test_stale_lock_on_this_host_is_taken_over_with_a_warning(tmp_path, caplog):
    out = tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _hold(out, dead.pid)
    with caplog.at_level(logging.WARNING, logger="curation.run_lock"):
        lock = acquire(out)
    assert f"pid {dead.pid}" in caplog.text and "no longer running" in caplog.text
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    release(lock)


def test_lock_from_another_host_is_not_taken_over(tmp_path):
    out = tmp_path / "out"
    _hold(out, 1, host="some-other-node")
    with pytest.raises(RunLockedError, match="pid 1 on some-other-node") as info:
        acquire(out)
    assert str(out / LOCK_NAME) in info.value.fix


def test_run_curation_into_a_held_folder_refuses_before_any_work(tmp_path):
    out = tmp_path / "out"
    _hold(out, os.getpid())
    with pytest.raises(RunLockedError, match=str(out)):
        run_curation(_config(tmp_path), out)
    assert not (out / "work").exists()


def test_cli_second_run_is_one_line_naming_folder_and_pid(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "c.yaml").write_text(json.dumps(config.model_dump(mode="json", exclude_defaults=True)))
    out = tmp_path / "out"
    _hold(out, os.getpid())  # this test process is alive: the folder is in use
    result = _midtrain("curate", str(tmp_path / "c.yaml"), "--out", str(out))
    assert result.returncode == 2
    assert f"error: {out} is in use by another curation run (pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr


# --- read-only / full disks -----------------------------------------------------------------


def test_out_below_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputFolderError, match="a part of the path is a file") as info:
        run_curation(_config(tmp_path), tmp_path / "afile" / "out")
    assert str(tmp_path / "afile" / "out") in str(info.value) and info.value.fix


def test_read_only_disk_is_one_line(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    config = _config(tmp_path)
    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(
        OutputFolderError, match=r"cannot write the output folder .*out: the file system is read-only"
    ):
        run_curation(config, tmp_path / "out")


def test_full_disk_while_writing_is_one_line(tmp_path, monkeypatch):
    real_write = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "config.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, *args, **kwargs)

    config = _config(tmp_path)
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputFolderError, match=r"the disk is full at .*config\.json") as info:
        run_curation(config, tmp_path / "out")
    assert "another disk" in info.value.fix
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # released on the way out


def test_permission_error_on_an_input_is_not_blamed_on_the_output(tmp_path):
    with pytest.raises(PermissionError), output_errors(tmp_path / "out"):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/input.jsonl")


# --- config errors name the key path -------------------------------------------------------


_BAD = """\
sources:
  - {name: a, path: in.jsonl, text_key: 3}
  - {path: in.jsonl}
filters:
  bogus: 1
executor: {tasks: 0}
"""


def test_from_yaml_gives_one_line_per_error_with_key_path(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "bad.yaml").write_text(_BAD)
    with pytest.raises(ConfigError) as info:
        CurationConfig.from_yaml(tmp_path / "bad.yaml")
    where = str(tmp_path / "bad.yaml")
    lines = info.value.lines
    assert lines[0] == f"{where}: sources.0.text_key: Input should be a valid string (got 3)"
    assert f"{where}: sources.1.name: required key missing" in lines
    assert any(line.startswith(f"{where}: filters.bogus: unknown key; valid keys: ") for line in lines)
    assert any(line.startswith(f"{where}: executor.tasks: ") and "(got 0)" in line for line in lines)
    assert "validation error for" not in str(info.value)


def test_from_yaml_bad_syntax_names_the_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("sources:\n  - {name: a, path: x\nfilters: {}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        CurationConfig.from_yaml(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        CurationConfig.from_yaml(tmp_path / "list.yaml")


def test_source_rule_errors_name_the_source_index(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "sources:\n  - {name: a, path: x.jsonl, text_key: q, text_template: '{q} {a}'}\n"
    )
    with pytest.raises(
        ConfigError, match=r"c\.yaml: sources\.0: text_template and text_key='q' are mutually"
    ):
        CurationConfig.from_yaml(tmp_path / "c.yaml")


def test_cli_prints_every_config_error_and_exits_non_zero(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "bad.yaml").write_text(_BAD)
    result = _midtrain("curate", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (
        "error: " in result.stderr
        and "sources.0.text_key: Input should be a valid string (got 3)" in result.stderr
    )
    assert "filters.bogus: unknown key; valid keys:" in result.stderr
    assert "executor.tasks:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_run_curation_with_a_dict_names_the_key_path(tmp_path):
    with pytest.raises(ConfigError, match=r"^curation config: sources\.0\.path: required key missing"):
        run_curation({"sources": [{"name": "a"}]}, tmp_path / "out")
