#!/usr/bin/env bash
# Write requirements.lock from the working .venv: every installed release, so later set-ups install the same.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Every release in a venv that passed the suite; scripts/setup.sh installs with it as pip constraints."
  echo "# Regenerate after changing dependencies: make setup (with the new ones), make test, then make lock."
  .venv/bin/pip freeze --all --exclude-editable --exclude sentinel | LC_ALL=C sort -f  # --all: pip and wheel too
} > requirements.lock
echo "requirements.lock: $(grep -vc '^#' requirements.lock) releases"
