"""`hpctl sandbox serve` as users run it: another hpctl process finds it with --cloud sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest


def test_serve_then_use_it_from_another_process(tmp_path):
    env = {**os.environ, "HPCTL_SANDBOX_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "hpctl", "sandbox", "serve", "--fleet", "6", "--date",
                               "2026-05-20", "--time-scale", "60000"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        endpoint = tmp_path / "endpoint.json"
        deadline = time.monotonic() + 30
        while not endpoint.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert endpoint.exists(), server.stderr.read() if server.poll() is not None else "no endpoint.json"
        info = json.loads(endpoint.read_text())
        assert info["url"].startswith("https://127.0.0.1:") and os.path.exists(info["ca_file"])
        assert oct(endpoint.stat().st_mode & 0o777) == "0o600"
        done = subprocess.run([sys.executable, "-m", "hpctl", "--cloud", "sandbox", "status", "-g", "rg-web",
                               "--as-of", "2026-05-20"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert {r["name"] for r in json.loads(done.stdout)} >= {"web-01", "web-02"}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("sandbox serve did not stop on Ctrl-C")
    assert not (tmp_path / "endpoint.json").exists(), "serve must remove endpoint.json when it stops"


@pytest.mark.parametrize("args,needle", [
    (["--budget", "foo"], "--budget"),
    (["--budget", "NoSuchPolicy=3"], "NoSuchPolicy"),
    (["--faults", "429=2"], "429"),
    (["--faults", "teapot=0.1"], "teapot"),
    (["--date", "tomorrow"], "--date"),
])
def test_serve_rejects_bad_settings(hpctl, args, needle, tmp_path):
    result = hpctl("sandbox", "serve", "--state-dir", str(tmp_path), *args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert not (tmp_path / "endpoint.json").exists()
