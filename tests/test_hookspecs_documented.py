"""Every hook in the contract is documented, in its docstring and in the plugin author's guide, and tested."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ganlab import hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-plugins.md"
EXAMPLE_PLUGIN = ROOT / "examples" / "ganlab-lsgan" / "ganlab_lsgan.py"
HOOKS = sorted(name for name, obj in vars(hookspecs).items()
               if inspect.isfunction(obj) and hasattr(obj, hookspecs.PROJECT_NAME + "_spec"))


def test_the_contract_has_hooks():
    assert {"ganlab_generator", "ganlab_discriminator", "ganlab_discriminator_penalty"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 5, f"{hook} needs a docstring saying when it is called and what it returns"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_described_in_the_plugin_authors_guide(hook):
    assert f"**`{hook}(" in GUIDE.read_text(), f"add a **`{hook}(...)`** entry to docs/writing-plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_named_in_a_test(hook):
    sources = [p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    assert any(re.search(rf"\b{hook}\b", text) for text in sources), f"no test names {hook}"


def test_guide_describes_no_hook_the_contract_lacks():
    described = set(re.findall(r"\*\*`(ganlab_\w+)\(", GUIDE.read_text()))
    assert described == set(HOOKS)


def test_guides_minimal_plugin_is_the_example_package_and_under_40_lines():
    text = GUIDE.read_text()
    block = re.search(r"<!-- lsgan-plugin-start -->\n```python\n(.*?)```\n<!-- lsgan-plugin-end -->", text, re.S)
    assert block and block.group(1) == EXAMPLE_PLUGIN.read_text()
    assert len(block.group(1).splitlines()) < 40
