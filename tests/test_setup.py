"""Set-up: pins agree everywhere, the tokenizer works offline, a second `make setup` does nothing slow."""

import json
import os
import re
import shutil
import tomllib

import yaml

from tests.conftest import REPO, run

PYTHON = str(REPO / ".venv" / "bin" / "python")


def pyproject_dependencies() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_lists and sorted(pip_lists[0]) == sorted(pyproject_dependencies())


def test_every_dependency_is_pinned_and_locked():
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in pyproject_dependencies():
        name, version = requirement.split("==")
        assert lock.get(re.sub(r"[-_.]+", "-", name).lower()) == version, requirement
    assert "torch==2.13.0" in pyproject_dependencies()


def test_the_python_the_docs_name_installs_every_locked_package():
    """pyproject's requires-python, the README's "Python 3.N+" and environment.yml's python= name one
    version, and every locked package installs on it (its own Requires-Python admits it)."""
    from importlib.metadata import PackageNotFoundError, metadata

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    minimum = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert minimum.startswith(">="), minimum
    lowest = Version(minimum.removeprefix(">="))
    too_new = []
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name = line.split("==")[0]
            try:
                needs = metadata(name).get("Requires-Python")
            except PackageNotFoundError:
                continue
            if needs and lowest not in SpecifierSet(needs):
                too_new.append(f"{name} needs Python {needs}")
    assert not too_new, f"requires-python {minimum} is too low: " + ", ".join(too_new)
    assert set(re.findall(r"Python (3\.\d+)\+", (REPO / "README.md").read_text())) == {str(lowest)}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert f"python={lowest}" in env["dependencies"]


def test_gpt2_tokenizer_works_offline():
    # Proxies that refuse every connection: any download attempt would fail loudly.
    code = ("import tiktoken; e = tiktoken.get_encoding('gpt2'); "
            "print(e.encode('unbelievability'), e.n_vocab)")
    result = run(PYTHON, "-c", code, env={"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                                          "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[403, 6667, 11203, 1799] 50257"


def test_torch_is_the_pinned_version():
    result = run(PYTHON, "-c", "import torch; print(torch.__version__)")
    assert result.stdout.startswith("2.13.0")


def test_second_setup_has_nothing_slow_to_do():
    # The install step is a file target: up to date means pip is not run again.
    result = run("make", "-n", ".venv/.installed")
    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout, result.stdout


def test_make_lab_opens_lesson_01_with_the_course_kernel(tmp_path, release_dir):
    # JUPYTER=echo stands in for Jupyter: the command it would run is printed, nothing is opened. It runs
    # in a course folder whose lessons/ is a fresh release, never the student's (a duplicated notebook
    # there, 01_chars-Copy1.ipynb, would sort first).
    course = tmp_path / "course"
    for name in ("01_chars", "07_self_attention"):
        shutil.copytree(release_dir / name, course / "lessons" / name)

    def make(*args, env=None):
        return run("make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-C", str(course),
                   f"VENV={REPO / '.venv'}", *args, env=env)

    result = make("lab", "JUPYTER=echo")
    assert result.returncode == 0, result.stderr
    root = f"--ServerApp.root_dir={course}" + (" --ServerApp.allow_root=True" if os.geteuid() == 0 else "")
    assert result.stdout.splitlines()[-1] == f"lab {root} lessons/01_chars/01_chars.ipynb"
    assert "JUPYTER_CONFIG_PATH" in result.stdout and (REPO / "jupyter/student/labconfig/page_config.json").exists()
    kernel = json.loads((release_dir / "01_chars/01_chars.ipynb").read_text())["metadata"]["kernelspec"]["name"]
    assert kernel == "gpt-course" and (REPO / ".venv/share/jupyter/kernels/gpt-course/kernel.json").exists()
    assert make("lab", "JUPYTER=echo", "LESSON=7").stdout.splitlines()[-1] == \
        f"lab {root} lessons/07_self_attention/07_self_attention.ipynb"
    spec = json.loads((REPO / ".venv/share/jupyter/kernels/gpt-course/kernel.json").read_text())
    assert spec["env"]["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"  # figures inline, never Agg
    # Without JupyterLab (an importable stand-in that fails like a missing package): Notebook 7.
    (tmp_path / "jupyterlab").mkdir()
    (tmp_path / "jupyterlab" / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = make("lab", "JUPYTER=echo", env={"PYTHONPATH": str(tmp_path)})
    assert result.stdout.splitlines()[-1] == f"notebook {root} lessons/01_chars/01_chars.ipynb"
    missing = make("lab", "JUPYTER=echo", "LESSON=42")
    assert missing.returncode != 0 and "no lesson 42 in lessons/" in missing.stderr
