#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this): installs what the tests start (a one-node SLURM
# from slurm-wlm and munge, headless chromium for the report) when missing, sets up .venv when missing,
# then runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
for pair in slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "test.sh: the tests need $packages; install them as root (apt-get install $packages)" >&2; exit 1; }
    sudo=sudo
  fi
  echo "test.sh: installing $packages (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
[ -x .venv/bin/pytest ] || ./setup.sh
exec .venv/bin/pytest "$@"
