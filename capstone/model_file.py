"""Your whole GPT in one readable file: `make train` and `make model` write runs/<name>/model.py.

The model is spread over lessons 07 (attention and GPTConfig), 08 (the block) and 09 (the GPT) by
design. This module puts the code the capstone loaded from those notebooks into one standalone,
nanoGPT-style file: the imports, then each lesson's definitions in order under a header naming the
notebook and cell, then a few lines that sample from the checkpoint next to it:

    python runs/cpu-small/model.py --prompt "ROMEO:"     # torch only (tiktoken for GPT-2 tokens)
    from model import GPT, GPTConfig                     # or build it and load ckpt.pt yourself

What goes in: the definitions GPT and GPTConfig need, found by name (a demo helper or a task the
GPT does not use, like lesson 07's Head, stays out). What changes: `load_lesson` and autograder
imports go, `L07.CausalSelfAttention` becomes `CausalSelfAttention` (it is defined above it now),
imports move to the top, the `### BEGIN/END SOLUTION` markers go. Everything else is the notebook
text as written. `check` then proves the file computes the same logits as the model the notebooks
built, so the file is never silently different from what was trained.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from autograder import loader
from autograder.loader import LessonLoadError
from autograder.notebook import called_name as _called_name
from autograder.source import Source
from autograder.paths import REPO_ROOT, LessonNotFound
from autograder.source import lesson_notebook

from . import assemble
from .errors import CapstoneError, ctrl_c_raises, print_error, print_interrupted

FILENAME = "model.py"
_MARKER = re.compile(r"^\s*###\s*(BEGIN|END)\s+SOLUTION\b.*$")


def model_lesson() -> tuple[str, list[str]]:
    """The lesson the capstone takes GPT from (assemble.USES), and the names it takes: the roots."""
    for lesson, names in assemble.USES.items():
        if "GPT" in names:
            return lesson, list(names)
    raise CapstoneError("capstone/assemble.py USES names no lesson that gives GPT")


# --- reading the notebooks -------------------------------------------------------------------

@dataclass
class Unit:
    """One top-level statement of a definition cell, with the comment lines right above it."""
    lesson: str
    cell: int
    text: str
    node: ast.stmt
    defines: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)


def _cell_code(code: str) -> str:
    """What the loader runs (magics already made `pass`: a statement that defines nothing, so it stays
    out of model.py), less the nbgrader markers."""
    return "\n".join(line for line in code.split("\n") if not _MARKER.match(line))


def _parse(path: Path, index: int, code: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as err:
        raise CapstoneError(f"{path.name}, cell {index}: SyntaxError on line {err.lineno}: {err.msg}") from None


def read_lessons(source: Source) -> list[tuple[str, Path, list[tuple[int, str]]]]:
    """(lesson, notebook, [(cell index, code)]) for the model lesson and every lesson it loads,
    those loaded first: the order the loader ran them in."""
    reader, order = loader.current().reader, []
    for lesson in source.lesson_graph([model_lesson()[0]], reader):  # the lesson graph: notebook.Lessons
        try:
            path = lesson_notebook(lesson, source)
            cells = [(cell.index, _cell_code(cell.code)) for cell in source.lesson_cells(lesson, reader).cells]
        except (LessonLoadError, LessonNotFound) as err:
            raise CapstoneError(f"cannot read lesson {lesson} from {source}: {err}") from None
        for index, code in cells:
            _parse(path, index, code)  # a cell that does not parse is named here, before anything is written
        order.append((lesson, path, cells))
    return order


# --- which statements the model needs ------------------------------------------------------------

def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module (not those bound inside its functions)."""
    names = set()

    def walk(n: ast.AST) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            return
        if isinstance(n, ast.Lambda):
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        if isinstance(n, (ast.Import, ast.ImportFrom)):  # an import inside `try:` or `if`
            names.update(_import_binding(a, n) for a in n.names if a.name != "*")
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _import_binding(alias: ast.alias, node: ast.stmt) -> str:
    if isinstance(node, ast.Import):
        return alias.asname or alias.name.split(".")[0]
    return alias.asname or alias.name


def _is_autograder_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "autograder"
    return any(a.name.split(".")[0] == "autograder" for a in node.names)


def _is_self_alias(node: ast.stmt) -> bool:
    """`Block = Block` or `LayerNorm, Block = LayerNorm, Block`: what `X = L08.X` becomes here."""
    def names(n):
        if isinstance(n, ast.Name):
            return [n.id]
        if isinstance(n, ast.Tuple) and all(isinstance(e, ast.Name) for e in n.elts):
            return [e.id for e in n.elts]
        return None

    return (isinstance(node, ast.Assign) and len(node.targets) == 1
            and names(node.targets[0]) is not None and names(node.targets[0]) == names(node.value))


def _units(lesson: str, index: int, code: str, tree: ast.Module) -> list[Unit]:
    lines = code.split("\n")
    units = []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1  # the comment block right above a statement belongs to it
        text = "\n".join(lines[start:node.end_lineno]).rstrip()
        units.append(Unit(lesson, index, text, node, _bound_names(node), _used_names(node)))
    return units


def _without_lesson_modules(code: str, aliases: set[str]) -> str:
    """`L07.CausalSelfAttention` -> `CausalSelfAttention`: in one file, every lesson's names are global."""
    if not aliases:
        return code
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(aliases))) + r")\.(?=[A-Za-z_])")
    while True:
        changed = pattern.sub("", code)
        if changed == code:
            return code
        code = changed


@dataclass
class Extract:
    imports: list[str]  # import lines, deduplicated, in first-seen order
    sections: list[tuple[str, Path, list[Unit]]]  # (lesson, notebook, kept statements)
    notes: list[str]


def extract(source: Source) -> Extract:
    """The imports and definitions GPT and GPTConfig need, lesson by lesson."""
    lessons = read_lessons(source)
    trees, aliases = {}, set()
    for lesson, path, cells in lessons:
        for index, code in cells:
            trees[(lesson, index)] = tree = _parse(path, index, code)
            for node in tree.body:  # L07 = load_lesson("07")
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                        and _called_name(node.value) == "load_lesson":
                    aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    units: list[Unit] = []
    for lesson, _, cells in lessons:
        for index, code in cells:
            rewritten = _without_lesson_modules(code, aliases)
            try:
                tree = ast.parse(rewritten)
            except SyntaxError:  # the rewrite hit something odd: keep the cell as written
                rewritten, tree = code, trees[(lesson, index)]
            units += _units(lesson, index, rewritten, tree)

    imports, code_units = [], []
    for unit in units:
        node = unit.node
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not _is_autograder_import(node):
                imports.append(unit)
        elif not (_is_self_alias(node) or any(isinstance(n, ast.Call) and _called_name(n) == "load_lesson"
                                               for n in ast.walk(node))):
            code_units.append(unit)

    needed, kept = set(model_lesson()[1]), set()
    changed = True
    while changed:  # keep every statement that binds a needed name; what it uses is needed too
        changed = False
        for i, unit in enumerate(code_units):
            if i not in kept and unit.defines & needed:
                kept.add(i)
                needed |= unit.uses
                changed = True

    import_lines, bound = [], set()
    for unit in imports:
        node = unit.node
        wanted = [a for a in node.names if a.name == "*" or _import_binding(a, node) in needed]
        wanted = [a for a in wanted if a.name == "*" or _import_binding(a, node) not in bound]
        if not wanted or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            continue
        bound |= {_import_binding(a, node) for a in wanted if a.name != "*"}
        copy = ast.ImportFrom(node.module, wanted, node.level) if isinstance(node, ast.ImportFrom) \
            else ast.Import(wanted)
        line = ast.unparse(copy)
        if line not in import_lines:
            import_lines.append(line)

    sections, defined_in, notes = [], {}, []
    for lesson, path, _ in lessons:
        mine = [u for i, u in enumerate(code_units) if i in kept and u.lesson == lesson]
        if mine:
            sections.append((lesson, path, mine))
        for unit in mine:
            for name in unit.defines:
                if defined_in.setdefault(name, lesson) != lesson:
                    notes.append(f"{name} is defined in lessons {defined_in[name]} and {lesson}: "
                                 f"in one file the later definition wins, for the earlier lesson's code too")
    return Extract(_sorted_imports(import_lines), sections, notes)


def _sorted_imports(lines: list[str]) -> list[str]:
    """Standard library first, then the rest (PEP 8 groups), each in first-seen order."""
    def stdlib(line: str) -> bool:
        module = line.split()[1].split(".")[0]
        return module in sys.stdlib_module_names

    first = [line for line in lines if stdlib(line)]
    rest = [line for line in lines if not stdlib(line)]
    return first + ([""] if first and rest else []) + rest


# --- writing the file ---------------------------------------------------------------------------

def _where(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _source_words(source: Source) -> str:
    if str(source) == "lessons":
        return "your notebooks in lessons/"
    if source.reference:
        return "the reference notebooks in solutions/"
    return f"the notebooks in {_where(source.root)}/"


HEADER = '''"""Your GPT in one file: the model your lessons define, laid out like nanoGPT's model.py.

Written by `make train` / `make model` from {source}:
the code the capstone loaded from lessons {lessons}, in that order, each under a header
naming its notebook and cell. Edit the notebooks, not this file: the next `make train` or
`make model` writes it again.

    {run:{width}}  # sample from the checkpoint next to this file
    {use:{width}}  # or build the model and load the weights yourself
"""'''

RUNNER = r'''

# ==================================================================================================
# Running it on a checkpoint: written by the capstone (capstone/model_file.py), not from a lesson.
# ==================================================================================================

def load_from_checkpoint(path, device="cpu"):
    """(model, encode, decode) of a capstone checkpoint: the GPT above with the weights of `path`."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # plain data only: no code runs
    record = ckpt.get("capstone") or next(v["capstone"] for v in ckpt.values()
                                          if isinstance(v, dict) and "capstone" in v)
    model = GPT(GPTConfig(**{**record["model_config"], "dropout": 0.0}))
    model.load_state_dict(ckpt["model"])
    tokenizer = record["tokenizer"]
    if tokenizer["kind"] == "char":  # lesson 01: one id per character, in sorted order
        chars = tokenizer["chars"]
        stoi = {ch: i for i, ch in enumerate(chars)}
        encode, decode = (lambda text: [stoi[ch] for ch in text]), (lambda ids: "".join(chars[i] for i in ids))
    else:  # lesson 02: GPT-2's byte-pair encoding
        import tiktoken

        enc = tiktoken.get_encoding("gpt2")
        encode, decode = (lambda text: enc.encode(text, allowed_special={"<|endoftext|>"})), enc.decode
    return model.to(device).eval(), encode, decode


def main(argv=None):
    """Sample like `make sample`: same defaults, same seed, same text; a mistake ends in one line."""
    import argparse
    import sys
    from pathlib import Path

    import torch

    parser = argparse.ArgumentParser(description="Generate text with this GPT from a capstone checkpoint.")
    parser.add_argument("--ckpt", type=Path, default=Path(__file__).with_name("ckpt.pt"))
    parser.add_argument("--prompt", default="\n", help="text to continue (\\n: a new line)")
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=200, help="0: sample among all tokens")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.temperature <= 0:
        sys.exit(f"--temperature {args.temperature}: must be > 0 (below 1: safer text, above 1: wilder)")
    if not args.ckpt.is_file():
        sys.exit(f"no checkpoint file at {args.ckpt}: train first (make train), or give one with --ckpt")
    try:
        model, encode, decode = load_from_checkpoint(args.ckpt, args.device)
    except Exception as err:  # a truncated file, another model's weights, an unknown --device...
        why = (str(err).strip().splitlines() or [""])[0].split(". ")[0]  # torch's messages run to paragraphs
        sys.exit(f"cannot load {args.ckpt} on {args.device}: {type(err).__name__}: {why}")
    prompt = args.prompt.encode().decode("unicode_escape") if "\\n" in args.prompt else args.prompt
    try:
        idx = torch.tensor([encode(prompt or "\n")], dtype=torch.long, device=args.device)
    except KeyError as err:  # a character tokenizer knows only the characters of its training text
        sys.exit(f"the prompt has a character the model never saw in training: {err}")
    top_k = min(args.top_k, model.config.vocab_size) if args.top_k > 0 else None
    generator = torch.Generator(device=args.device).manual_seed(args.seed)
    with torch.no_grad():
        out = model.generate(idx, args.tokens, temperature=args.temperature, top_k=top_k, generator=generator)
    print(decode(out[0].tolist()))


if __name__ == "__main__":
    import sys

    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C: one line, and the shell's exit status for it
        print("interrupted", file=sys.stderr)
        sys.exit(130)
'''


def render(source: Source, name: str = f"runs/<name>/{FILENAME}") -> str:
    """The text of model.py for the notebooks in `source`."""
    found = extract(source)
    lessons = " -> ".join(lesson for lesson, _, _ in found.sections)
    run, use = f'python {name} --prompt "ROMEO:"', "from model import GPT, GPTConfig"
    head = HEADER.format(source=_source_words(source), lessons=lessons, run=run, use=use,
                         width=max(len(run), len(use)))
    head += "".join(f"\n# note: {note}" for note in found.notes)
    parts = []
    for lesson, path, units in found.sections:
        body, cell = [], None
        for unit in units:
            if unit.cell != cell:
                cell = unit.cell
                body.append(f"# --- {path.name}, cell {cell} ---\n{unit.text}")
            else:
                body.append(unit.text)
        bar = "# " + "=" * 98
        parts.append(f"{bar}\n# lesson {lesson}: {_where(path)}\n{bar}\n\n" + "\n\n\n".join(body))
    return head + "\n\n" + "\n".join(found.imports) + "\n\n\n" + "\n\n\n".join(parts) + "\n" + RUNNER


def write(source: Source, out: Path) -> Path:
    """Write out/model.py (atomically: a half-written file never replaces a good one)."""
    out = Path(out)
    path = out / FILENAME
    text = render(source, name=_where(path))
    out.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    temp.replace(path)
    return path


def import_file(path: Path):
    """model.py as a fresh module (what `from model import GPT` gives), without touching sys.path."""
    name = f"_capstone_model_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # @dataclass looks its module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def check(path: Path, model: torch.nn.Module, model_config: dict) -> str | None:
    """None if the GPT in `path`, given `model`'s weights, computes `model`'s logits; else what differs.

    Uses no random numbers of the caller (a training run stays the same with or without it)."""
    try:
        module = import_file(path)
        with torch.random.fork_rng(devices=[]):  # building a GPT initialises weights: draws numbers
            copy = module.GPT(module.GPTConfig(**{**model_config, "dropout": 0.0}))
        copy.load_state_dict(model.state_dict())
        device = next(model.parameters()).device
        copy = copy.to(device).eval()
        T = min(8, int(model_config["block_size"]))
        idx = ((torch.arange(2 * T).view(2, T) * 7 + 3) % int(model_config["vocab_size"])).to(device)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                want, got = model(idx)[0], copy(idx)[0]
        finally:
            model.train(was_training)
        if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-5, atol=1e-6):
            worst = (got - want).abs().max().item() if got.shape == want.shape else f"shape {tuple(got.shape)}"
            return f"its logits differ from those of the model your notebooks build ({worst})"
    except (Exception, SystemExit) as err:  # noqa: BLE001 - a by-product must never stop training
        first = (str(err).strip().splitlines() or [""])[0][:200]
        return f"it does not run: {err.__class__.__name__}" + (f": {first}" if first else "")
    return None


def write_checked(source: Source, out: Path, model: torch.nn.Module, model_config: dict) -> tuple[Path, str | None]:
    """Write out/model.py and check it against `model`: (path, None) or (path, why it is not trusted)."""
    path = Path(out) / FILENAME
    try:
        path = write(source, out)
    except (CapstoneError, OSError) as err:
        return path, f"could not be written: {err}"
    return path, check(path, model, model_config)


# --- make model ---------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capstone.model_file", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="run folder (default: the most recent run in runs/)")
    parser.add_argument("--source", help="lessons, solutions or a folder of lessons (default: the one the "
                                         "checkpoint was trained with; lessons when there is no checkpoint)")
    ctrl_c_raises()
    args = parser.parse_args(argv)
    from . import checkpoint, sample

    try:
        if args.out:
            checkpoint.check_folder(args.out)
        out = args.out or sample.latest_run()
        ckpt = out / "ckpt.pt"
        source = sample.source_for(ckpt, args.source) if ckpt.exists() else Source.parse(args.source or "lessons")
        path = write(source, out)
        course = assemble.load_course(source, lessons=[model_lesson()[0]])
        try:
            if ckpt.exists():
                model_config = checkpoint.read_record(ckpt)["model_config"]
                model = course.GPT(course.GPTConfig(**{**model_config, "dropout": 0.0}))
                model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["model"])
                against = f"the weights in {ckpt}"
            else:  # no training yet: check against a fresh model of the test preset's size
                from .presets import PRESETS

                gpt_config = assemble.gpt_config_for(course, PRESETS["test"], vocab_size=65)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = course.GPT(gpt_config)
                model_config, against = assemble.model_config_dict(gpt_config), "a fresh model (no checkpoint there yet)"
        except NotImplementedError as err:
            raise CapstoneError(f"{path} was written, but cannot be checked: your lesson code is not finished "
                                f"({err})") from None
        except (RuntimeError, KeyError, TypeError) as err:  # weights of another shape, no "model" entry
            first = (str(err).strip().splitlines() or [""])[0][:300]
            raise CapstoneError(f"{path} was written, but {ckpt} does not fit the model your notebooks build: "
                                f"{err.__class__.__name__}: {first}") from None
        problem = check(path, model, model_config)
    except (CapstoneError, OSError) as err:
        return print_error(err if isinstance(err, CapstoneError) else CapstoneError(f"cannot write model.py: {err}"))
    except KeyboardInterrupt as err:  # write() replaces model.py only once the new text is complete
        return print_interrupted(err, "model.py is the old one or the new one, never half-written")
    if problem:
        return print_error(CapstoneError(f"{path} was written, but {problem}; your notebooks stay the "
                                         f"source of truth"))
    print(f"{path}: your GPT in one file, checked against {against} (same logits)\n"
          f"sample with it: python {_where(path)} --prompt \"ROMEO:\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
