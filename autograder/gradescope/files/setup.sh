#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (with network access).
# It installs the course's exact packages (requirements.lock, CPU build of torch) into
# /autograder/venv with the Python minor version the zip was built with, bubblewrap and libseccomp2 for the jail,
# Tiny Shakespeare and GPT-2's BPE files (checksums verified), then checks that grading works.
set -euxo pipefail
cd /autograder/source
PYTHON_VERSION="$(cat python-version)"
apt-get update -qq
apt-get install -y -qq bubblewrap libseccomp2 python3-pip
python3 -m pip install --quiet uv 2>/dev/null || python3 -m pip install --quiet --break-system-packages uv
uv python install "$PYTHON_VERSION"
uv venv --python "$PYTHON_VERSION" /autograder/venv
uv pip install --python /autograder/venv/bin/python -r requirements.lock \
    --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match
/autograder/venv/bin/python datasets/fetch.py all
/autograder/venv/bin/python -m autograder.jail.install --check
