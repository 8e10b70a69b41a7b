#!/usr/bin/env bash
# Idempotent set-up: system packages, the virtualenv at .venv and every Python dependency.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || need_apt+=(opencv-doc)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "==> apt-get install ${need_apt[*]}"
  $sudo_cmd apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || { echo "==> creating .venv with $PY"; "$PY" -m venv .venv; }

stamp=.venv/.sentinel-deps
want=$(cat pyproject.toml requirements-nodeps.txt requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing Python dependencies (first run takes a few minutes)"
  # the releases of a venv that passed the suite (scripts/lock.sh): a fresh machine installs the same, not PyPI's newest
  lock=(-c requirements.lock)
  .venv/bin/pip install -q "${lock[@]}" pip setuptools wheel
  # torch first and pinned: pip takes this build from the machine's disk, never a newer CUDA one
  .venv/bin/pip install -q "${lock[@]}" torch==2.14.1 torchvision==0.29.1
  .venv/bin/pip install -q "${lock[@]}" -e '.[test]'
  .venv/bin/pip install -q "${lock[@]}" --no-deps -r requirements-nodeps.txt
  # a second OpenCV beside the headless 4.x build would shadow it
  if .venv/bin/pip show -q opencv-python >/dev/null 2>&1; then
    .venv/bin/pip uninstall -q -y opencv-python
    .venv/bin/pip install -q "${lock[@]}" --force-reinstall --no-deps 'opencv-python-headless>=4.10,<5'
  fi
  echo "$want" > "$stamp"
fi
