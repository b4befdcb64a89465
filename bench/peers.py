"""The peer gateway the benchmark compares Dihya with: the LiteLLM proxy, in a venv of its own.

`python -m bench.peers setup` (what `make bench-peers` runs first) makes a throw-away
virtualenv in var/peers/litellm — never the project's .venv — and installs `litellm` (the
version issue 18 measured, else the newest the index has) and then the requirements of its
`proxy` extra one by one: `pip install "litellm[proxy]"` fails as a whole here because the
extra pins packages the index does not carry, and the proxy runs without most of them. What
was installed, skipped or failed is written to var/peers/litellm/setup.json and shown in the
report. `litellm_proxy()` starts the proxy on the fake upstream: one process, no database, the
local model cost map (no download at start), one model, a master key checked on every call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from bench import procs

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "var" / "peers" / "litellm"
PYTHON = VENV / "bin" / "python"
SETUP = VENV / "setup.json"
WANTED = "1.110.2"  # the version issue 18 measured
MASTER_KEY = "sk-bench-litellm"  # loopback only

# Reads the installed litellm's metadata inside the peer venv (`packaging` comes with pip's
# vendored copy when the venv has none) and prints the proxy extra's requirements, markers
# evaluated for this interpreter, as plain requirement strings.
EXTRA_REQUIREMENTS = textwrap.dedent("""
    import json, sys
    from importlib import metadata
    try:
        from packaging.requirements import Requirement
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
    out = []
    for line in metadata.requires("litellm") or []:
        req = Requirement(line)
        if req.marker is None or not req.marker.evaluate({"extra": "__none__"}):
            if req.marker is not None and req.marker.evaluate({"extra": "proxy"}):
                extras = "[" + ",".join(sorted(req.extras)) + "]" if req.extras else ""
                out.append(f"{req.name}{extras}{req.specifier}")
    print(json.dumps({"version": metadata.version("litellm"), "proxy": out}))
""")


def pip(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PYTHON), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def setup() -> dict[str, Any]:
    """Create the peer venv and install LiteLLM with what it can of its proxy extra."""
    if not PYTHON.exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    report: dict[str, Any] = {"wanted": WANTED, "installed": [], "skipped": []}
    done = pip(f"litellm=={WANTED}")
    if done.returncode:
        report["wanted_failed"] = done.stderr.strip()[-500:]
        done = pip("--upgrade", "litellm")
        if done.returncode:
            raise SystemExit("could not install litellm:\n" + done.stderr[-3000:])
    meta = json.loads(subprocess.run([str(PYTHON), "-c", EXTRA_REQUIREMENTS],
                                     capture_output=True, text=True, check=True,
                                     timeout=120).stdout)
    report["version"] = meta["version"]
    for requirement in meta["proxy"]:
        done = pip(requirement, timeout=600)
        if done.returncode:
            last = [x for x in done.stderr.strip().splitlines() if x.strip()][-1:] or ["?"]
            report["skipped"].append({"requirement": requirement, "why": last[0][:300]})
            print(f"skipped {requirement}: {last[0][:200]}", file=sys.stderr)
        else:
            report["installed"].append(requirement)
            print(f"installed {requirement}", file=sys.stderr)
    # The proxy must start: its import errors name what a skipped requirement cost.
    check = subprocess.run([str(PYTHON), "-c", "import litellm.proxy.proxy_server"],
                           capture_output=True, text=True, timeout=300, check=False,
                           env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    report["proxy_imports"] = check.returncode == 0
    if check.returncode:
        report["proxy_import_error"] = check.stderr.strip()[-1000:]
    SETUP.write_text(json.dumps(report, indent=2) + "\n")
    return report


def available() -> dict[str, Any] | None:
    """What setup installed, or None when there is no usable peer venv."""
    if not (PYTHON.exists() and SETUP.exists()):
        return None
    report = json.loads(SETUP.read_text())
    return report if report.get("proxy_imports") else None


def describe(report: dict[str, Any]) -> str:
    """One line for the report: which LiteLLM, and which proxy requirements are missing."""
    version = report.get("version")
    line = f"LiteLLM {version}" + ("" if version == report.get("wanted") else
                                   f" (the index has no {report.get('wanted')})")
    skipped = [s["requirement"] for s in report.get("skipped", [])]
    return line + (f"; proxy requirements not on the index, left out: {', '.join(skipped)}"
                   if skipped else "; every proxy requirement installed")


def litellm_proxy(upstream: str, llama: str = "") -> tuple[procs.Proc, str]:
    """The LiteLLM proxy, one process: the models `bench` and `long` on the fake upstream's
    /ok/v1 and /long/v1 and, when the real engine runs, `llama` on llama.cpp (all as
    OpenAI-compatible servers)."""
    port = procs.free_port()
    procs.VAR.mkdir(parents=True, exist_ok=True)
    config = procs.VAR / "litellm.yaml"
    models = [("bench", "openai/fake", f"{upstream}/ok/v1"),
              ("long", "openai/fake", f"{upstream}/long/v1")]  # bench/streams.py
    if llama:
        models.append(("llama", "openai/smollm2-135m", llama))
    config.write_text("model_list:\n" + "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: {model}\n"
        f"      api_base: {base}\n      api_key: fake\n" for name, model, base in models)
        + textwrap.dedent(f"""\
        litellm_settings:
          telemetry: false
          drop_params: true
          set_verbose: false
        general_settings:
          master_key: {MASTER_KEY}
        """))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "DJANGO_", "DIHYA_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", PYTHONUNBUFFERED="1",
               LITELLM_TELEMETRY="False", NO_DOCS="True", DISABLE_ADMIN_UI="True")
    proc = procs.start("litellm", [str(VENV / "bin" / "litellm"), "--config", str(config),
                                   "--host", "127.0.0.1", "--port", str(port),
                                   "--num_workers", "1"], env)
    procs.wait_port(port, 180, proc)
    time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}"


if __name__ == "__main__":
    if sys.argv[1:] != ["setup"]:
        raise SystemExit("usage: python -m bench.peers setup")
    result = setup()
    print(f"litellm {result['version']} in {VENV} (wanted {WANTED}); "
          f"{len(result['installed'])} proxy requirements installed, "
          f"{len(result['skipped'])} skipped: "
          f"{', '.join(s['requirement'] for s in result['skipped']) or 'none'}; "
          f"proxy imports: {result['proxy_imports']}")
