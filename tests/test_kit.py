"""The checks share one kit (autograder/checks/kit.py) and never import each other."""

import re

import pytest
import torch

from autograder.checks import kit
from tests.conftest import REPO

CHECKS = sorted((REPO / "autograder" / "checks").glob("lesson*.py"))


@pytest.mark.parametrize("path", CHECKS, ids=lambda p: p.stem)
def test_check_files_use_the_kit_not_each_other(path):
    text = path.read_text()
    assert not re.search(r"^from \.lesson\d\d import|^from autograder\.checks\.lesson", text, re.MULTILINE), \
        f"{path.name} imports another check file: move what it shares into kit.py"
    for helper in ("randn", "randint", "set_params", "generator", "non_contiguous"):
        assert not re.search(rf"^def {helper}\(", text, re.MULTILINE), f"{path.name} defines its own {helper}"
    assert "torch.Generator()" not in text, f"{path.name} seeds a generator itself: use kit.generator"


def test_kit_inputs_are_seeded_and_leave_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    a, b = kit.randn(3, 17, seed=5), kit.randn(3, 17, seed=5, dtype=torch.float64)
    assert torch.equal(a, b.float()) and a.dtype == torch.float32  # one draw, rounded once per dtype
    shifted = kit.randn(4, 100, seed=1, scale=1e-3, shift=100.0)
    assert torch.allclose(shifted.double() - 100.0, kit.randn(4, 100, seed=1, dtype=torch.float64) * 1e-3, atol=1e-5)
    assert torch.equal(kit.randint(2, 3, high=7, seed=1), kit.randint(2, 3, high=7, seed=1))
    assert kit.random_strings(1, 3, "ab") == kit.random_strings(1, 3, "ab")
    assert torch.equal(torch.random.get_rng_state(), state)


def test_set_params_sets_parameters_by_name_whatever_the_order_they_were_created_in():
    one, two = torch.nn.Sequential(), torch.nn.Sequential()
    one.add_module("a", torch.nn.Linear(3, 2))
    one.add_module("b", torch.nn.Linear(2, 2))
    two.add_module("b", torch.nn.Linear(2, 2))
    two.add_module("a", torch.nn.Linear(3, 2))
    kit.set_params(one, 7, scale=0.5), kit.set_params(two, 7, scale=0.5)
    assert all(torch.equal(p, dict(two.named_parameters())[n]) for n, p in one.named_parameters())


def test_seeded_params_gives_the_values_set_params_sets():
    """The diagnoses of lessons 07-09 rebuild a mistaken forward from seeded_params: it must match set_params."""
    module = torch.nn.ModuleDict({"b": torch.nn.Linear(3, 4), "a": torch.nn.LayerNorm(4)})
    kit.set_params(module, 11, scale=0.3)
    values = kit.seeded_params({name: tuple(p.shape) for name, p in module.named_parameters()}, 11, scale=0.3)
    assert all(torch.equal(values[name], p) for name, p in module.named_parameters())
