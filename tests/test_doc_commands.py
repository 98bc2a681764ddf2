"""Every shell command in the READMEs and the guides runs, or says why it cannot.

Documents checked: :data:`DOCUMENTS` (README.md, README.zh-CN.md, docs/from-the-keras-tutorial.md,
docs/zh/*.md, tutorials/README.zh-CN.md). Commands are the lines of fenced blocks tagged ``bash``,
``sh`` or ``shell`` (comments dropped, ``\\`` continuations joined, ``&&`` split).

**Marking a block that cannot run here.** Put an HTML comment with a reason on the line before the
fence (blank lines between are allowed); GitHub does not show it, so it costs the reader nothing::

    <!-- not-run: needs a CUDA GPU -->
    ```bash
    ganlab run --device cuda
    ```

A marker without a reason is an error.

**How the others run.** In order, in one scratch folder that all the documents share (so a command
finds what an earlier one wrote), through ganlab's real command line, in this process (click's
``CliRunner`` calls the same ``cli`` the installed ``ganlab`` script calls, without a Python start-up
per command; ``tests/test_cli.py`` runs the README's main command as a real subprocess). A command that
an earlier document already ran, word for word, is not run again (the Chinese docs repeat the English
ones). Four rules keep the whole test to seconds and off the network; rules 1 and 2 rewrite the
command, and a failure prints the rewritten form:

1. *Budgets shrink.* ``ganlab run`` and ``ganlab compare --variants`` train :data:`STEPS` steps and
   evaluate :data:`EVAL_SAMPLES` samples at the end (``ganlab run --eval-every`` also every
   ``STEPS // 2`` steps; ``compare --variants`` only at the end: it evaluates on the full MNIST test
   split, having no ``--data``); ``ganlab eval`` and ``ganlab compare`` draw :data:`EVAL_SAMPLES` samples.
2. *Small data, no downloads.* ``ganlab run`` without ``--data`` (and not on 2-D toy data, which is
   drawn on the spot) reads a small Keras-format MNIST file
   (the real first 2 000 training and 500 test images); so does any command naming a dataset that is
   not in the ganlab cache.
3. *Run folders.* The docs write a run folder as ``runs/<variant>-...``; the scratch folder holds a run
   of that variant, trained once for this test, under exactly that name, so those commands run as written.
4. *Installing, and the test suite.* ``pip install -e .`` and ``pip install -e ".[test]"`` are not run
   (this test runs inside that installation), nor is ``python -m pytest`` (it is what runs this test).
5. *torchrun.* In ``torchrun ... -m ganlab ARGS`` the ganlab part is rewritten by rules 1 and 2, and the
   whole runs as a real subprocess (``python -m torch.distributed.run``, the module behind ``torchrun``).

A ```python block whose first line is ``# NAME.py``, or that a ``<!-- file: NAME.py -->`` comment (one
of the two lines before the fence) names, is a file the next commands use (the README's LSGAN plugin):
it is written to NAME.py in the scratch folder. Untagged blocks are listings; a test
checks that none of them starts with a command, which would escape this test.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganlab.cli import cli
from ganlab.data import dataset_names
from ganlab.data.cache import cache_path
from ganlab.data.toy import TOY_MODES

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "README.zh-CN.md", ROOT / "docs" / "from-the-keras-tutorial.md",
                    ROOT / "tutorials" / "README.zh-CN.md", *(ROOT / "docs" / "zh").glob("*.md")])
SHELL_TAGS = ("bash", "sh", "shell")
STEPS = 6
EVAL_SAMPLES = 200
NOT_RUN = re.compile(r"<!--\s*not-run:(?P<reason>.*?)-->")
RUN_PLACEHOLDER = re.compile(r"runs/(?P<variant>[\w+]+)-\.\.\.")
FILE_BLOCK = re.compile(r"#\s*(?P<name>[\w-]+\.py)\s*$")
FILE_MARKER = re.compile(r"<!--\s*file:\s*(?P<name>[\w-]+\.py)\s*-->")
COMMAND_WORDS = ("ganlab", "pip", "python", "python3", "torchrun")


@dataclass
class Block:
    document: Path
    line: int  # 1-based line of the opening fence
    tag: str
    text: str
    not_run: str | None  # the marker's reason, or None
    file_name: str | None = None  # a <!-- file: NAME.py --> comment just before the block


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, with the not-run marker before it, if any."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = lines[i].strip()
        if not opening.startswith("```"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        before = [line.strip() for line in lines[:i] if line.strip()]
        marker = NOT_RUN.search(before[-1]) if before else None
        if before and before[-1].startswith("<!--") and "not-run" in before[-1] and not marker:
            raise AssertionError(f"{path.name}:{i}: malformed marker {before[-1]!r}; write <!-- not-run: reason -->")
        text = "\n".join(line[len(lines[i]) - len(lines[i].lstrip()):] for line in lines[i + 1:j])
        reason = marker["reason"].strip() if marker else None
        named = [FILE_MARKER.search(line) for line in before[-2:]]
        file_name = next((m["name"] for m in named if m), None)
        blocks.append(Block(path, i + 1, opening[3:].strip().lower(), text, reason, file_name))
        i = j + 1
    return blocks


def commands_of(block: Block) -> list[list[str]]:
    """The commands of a shell block, each as an argv list."""
    joined = block.text.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in words + ["&&"]:
            if word == "&&":
                if current:
                    commands.append(current)
                current = []
            elif word in ("|", ";", ">", ">>", "<", "||", "&"):
                raise AssertionError(f"{where(block)}: this test runs simple commands joined by && only, not "
                                     f"{word!r}; simplify the command or mark the block not-run")
            else:
                current.append(word)
    return commands


def where(block: Block) -> str:
    return f"{block.document.relative_to(ROOT)}:{block.line}"


# --------------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------------
def set_option(args: list[str], name: str, value) -> list[str]:
    """``args`` with ``name value`` set, replacing the value if the option is already there."""
    args = list(args)
    if name in args:
        args[args.index(name) + 1] = str(value)
    else:
        args += [name, str(value)]
    return args


def needs_small_data(args: list[str]) -> bool:
    """Rule 2: a training command without --data, or a data command naming a dataset the cache lacks."""
    if "--data" in args:
        return False
    if args[0] == "run":  # but the 2-D toy datasets are drawn on the spot: nothing to download
        dataset = args[args.index("--dataset") + 1] if "--dataset" in args else "mnist"
        return dataset not in TOY_MODES
    if args[0] == "data" and len(args) > 2 and args[2] in dataset_names():
        return not cache_path(f"{args[2]}.npz").exists()
    return False


def shrink(args: list[str], small_data: str) -> list[str]:
    """Rules 1 and 2, for the arguments after ``ganlab``."""
    if needs_small_data(args):
        args = args + ["--data", small_data]
    if args[0] == "run":
        args = set_option(args, "--steps", STEPS)
        args = set_option(args, "--final-eval-samples", EVAL_SAMPLES)
        if "--eval-every" in args:
            args = set_option(set_option(args, "--eval-every", STEPS // 2), "--eval-samples", EVAL_SAMPLES)
    elif args[0] == "eval":
        args = set_option(args, "--n", EVAL_SAMPLES)
    elif args[0] == "compare":
        args = set_option(args, "--n", EVAL_SAMPLES)
        if "--variants" in args:
            args = set_option(set_option(args, "--steps", STEPS), "--eval-every", 0)
    return args


def is_installing_this_repository(argv: list[str]) -> bool:
    """Rule 4: ``pip install -e .`` or ``pip install -e ".[test]"`` (or their python -m pip forms)."""
    words = argv[2:] if argv[:3] == ["python", "-m", "pip"] else argv
    return words[:3] == ["pip", "install", "-e"] and len(words) == 4 and re.fullmatch(r"\.(\[[\w,]+\])?", words[3])


def torchrun_command(argv: list[str], small_data: str) -> list[str]:
    """Rule 5: ``torchrun OPTIONS -m ganlab ARGS`` with ARGS shrunk, as this Python runs it."""
    at = argv.index("ganlab")
    return [sys.executable, "-m", "torch.distributed.run", *argv[1:at + 1], *shrink(argv[at + 1:], small_data)]


def is_the_test_suite(argv: list[str]) -> bool:
    return argv[:3] == ["python", "-m", "pytest"] or argv[:1] == ["pytest"]


@pytest.fixture(scope="module")
def trained_runs(small_mnist_npz, tmp_path_factory):
    """Rule 3: one small run per variant the documents name as ``runs/<variant>-...``, trained once."""
    folder, runs = tmp_path_factory.mktemp("doc-runs"), {}

    def run_of(variant: str) -> Path:
        if variant not in runs:
            out = folder / variant
            invoke(["run", "--variant", variant, "--steps", str(STEPS), "--final-eval-samples", str(EVAL_SAMPLES),
                    "--data", small_mnist_npz, "--seed", "0", "--quiet", "--out", str(out)], "training a run")
            runs[variant] = out
        return runs[variant]

    return run_of


def invoke(args: list[str], context: str) -> str:
    result = CliRunner().invoke(cli, args, prog_name="ganlab")
    if result.exit_code != 0:
        detail = result.output[-3000:]
        if result.exception and not isinstance(result.exception, SystemExit):
            detail += f"\n{type(result.exception).__name__}: {result.exception}"
        raise AssertionError(f"{context}: `ganlab {shlex.join(args)}` exited with {result.exit_code}:\n{detail}")
    return result.output


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The folder the documents' commands run in, and the commands already run there."""
    return tmp_path_factory.mktemp("doc-commands"), set()


def run_document(document: Path, scratch: Path, already_run: set, small_data: str, run_of) -> list[str]:
    """Run every shell command of ``document`` in ``scratch``; returns what was run or skipped, for the log."""
    log = []
    for block in fenced_blocks(document):
        first_line = block.text.splitlines()[0] if block.text else ""
        if block.tag == "python" and (block.file_name or FILE_BLOCK.match(first_line)):
            name = block.file_name or FILE_BLOCK.match(first_line)["name"]
            (scratch / name).write_text(block.text + "\n", encoding="utf-8")
            continue
        if block.tag not in SHELL_TAGS or block.not_run:
            continue
        for variant in RUN_PLACEHOLDER.findall(block.text):
            placeholder = scratch / "runs" / f"{variant}-..."
            if not placeholder.exists():
                shutil.copytree(run_of(variant), placeholder)
        for argv in commands_of(block):
            if is_installing_this_repository(argv) or is_the_test_suite(argv):
                log.append(f"skipped (rule 4): {shlex.join(argv)}")
                continue
            if argv[0] == "ganlab" or argv[:3] == ["python", "-m", "ganlab"]:
                args = shrink(argv[3:] if argv[0] == "python" else argv[1:], small_data)
                if tuple(args) in already_run:
                    log.append(f"already ran: ganlab {shlex.join(args)}")
                    continue
                invoke(args, f"{where(block)} `{shlex.join(argv)}`")
                already_run.add(tuple(args))
                log.append(f"ran: ganlab {shlex.join(args)}")
            elif argv[0] == "torchrun" and "ganlab" in argv:
                command = torchrun_command(argv, small_data)
                if tuple(command) not in already_run:
                    result = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=300)
                    assert result.returncode == 0, f"{where(block)} `{shlex.join(command)}` failed:\n" \
                                                   f"{(result.stdout + result.stderr)[-3000:]}"
                    already_run.add(tuple(command))
                log.append(f"ran: {shlex.join(command)}")
            else:
                result = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=120)
                assert result.returncode == 0, f"{where(block)} `{shlex.join(argv)}` failed:\n{result.stderr[-3000:]}"
                log.append(f"ran: {shlex.join(argv)}")
    return log


# --------------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shell_command_runs_or_is_marked_not_run(document, scratch, monkeypatch, small_mnist_npz, trained_runs):
    folder, already_run = scratch
    monkeypatch.chdir(folder)
    log = run_document(document, folder, already_run, small_mnist_npz, trained_runs)
    print("\n".join(log))


def test_the_documents_exist_and_the_chinese_ones_have_commands():
    for document in DOCUMENTS:
        assert document.is_file(), document
    for name in ("README.zh-CN.md", "docs/zh/from-the-keras-tutorial.md"):
        shell = [b for b in fenced_blocks(ROOT / name) if b.tag in SHELL_TAGS and not b.not_run]
        assert shell, f"{name} has no runnable shell block"


def test_every_not_run_marker_gives_a_reason():
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            if block.not_run is not None:
                assert len(block.not_run) >= 5, f"{where(block)}: the not-run marker needs a reason"


def test_no_untagged_block_hides_a_command():
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            if block.tag in ("", "text", "console"):
                first_words = {line.split()[0] for line in block.text.splitlines() if line.split()}
                assert not first_words & set(COMMAND_WORDS), (
                    f"{where(block)}: a block that is not tagged bash starts a line with a command; tag it "
                    f"```bash so it is tested, or mark it not-run")


def test_the_rules_rewrite_commands_as_documented():
    small = "small.npz"
    assert shrink(["run", "--variant", "cgan"], small) == [
        "run", "--variant", "cgan", "--data", small, "--steps", str(STEPS), "--final-eval-samples", str(EVAL_SAMPLES)]
    assert shrink(["run", "--variant", "cgan", "--eval-every", "2000"], small) == [
        "run", "--variant", "cgan", "--eval-every", str(STEPS // 2), "--data", small, "--steps", str(STEPS),
        "--final-eval-samples", str(EVAL_SAMPLES), "--eval-samples", str(EVAL_SAMPLES)]
    assert shrink(["eval", "runs/cgan-..."], small) == ["eval", "runs/cgan-...", "--n", str(EVAL_SAMPLES)]
    assert shrink(["compare", "--variants", "gan,cgan"], small) == [
        "compare", "--variants", "gan,cgan", "--n", str(EVAL_SAMPLES), "--steps", str(STEPS), "--eval-every", "0"]
    mine = ["data", "info", "mnist", "--data", "mine.npz"]
    assert shrink(mine, small) == mine
    assert torchrun_command(["torchrun", "--standalone", "-m", "ganlab", "run", "--variant", "gan"], small) == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "-m", "ganlab", "run", "--variant", "gan",
        "--data", small, "--steps", str(STEPS), "--final-eval-samples", str(EVAL_SAMPLES)]
    assert is_installing_this_repository(["pip", "install", "-e", ".[test]"])
    assert not is_installing_this_repository(["pip", "install", "-e", "../elsewhere"])
    assert not is_installing_this_repository(["pip", "install", "torch"])


def test_blocks_and_markers_are_parsed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- not-run: needs a GPU -->\n\n```bash\nganlab run \\\n  --device cuda  # on a GPU\n"
                    "```\n\n  ```sh\n  pip install -e . && ganlab variants\n  ```\n", encoding="utf-8")
    first, second = fenced_blocks(page)
    assert (first.tag, first.not_run, first.line) == ("bash", "needs a GPU", 5)
    assert commands_of(first) == [["ganlab", "run", "--device", "cuda"]]
    assert second.not_run is None
    assert commands_of(second) == [["pip", "install", "-e", "."], ["ganlab", "variants"]]
