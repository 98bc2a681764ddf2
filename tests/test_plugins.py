"""Loading plugins: from files and entry points, validated when they load."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from ganlab.errors import ConfigError, PluginError
from ganlab.plugins import discover_plugins, make_plugin_manager, resolve_settings, trace_hook_calls, trace_table

LSGAN_PLUGIN = '''
"""Least-squares GAN losses (Mao et al. 2017), for the tests."""
import ganlab

@ganlab.hookimpl
def ganlab_discriminator_loss(scores, is_real):
    target = 1.0 if is_real else 0.0
    return ((scores - target) ** 2).mean()

@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return ((scores - 1.0) ** 2).mean()
'''


def write_plugin(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_builtin_variants_arrive_through_entry_points():
    sources = discover_plugins()
    assert {"gan", "cgan"} <= set(sources)
    assert "ganlab_plugins.cgan" in sources["cgan"].origin
    assert sources["cgan"].description.startswith("The tutorial's conditional GAN")


def test_plugin_from_a_file_is_asked_before_the_next_named(tmp_path):
    path = write_plugin(tmp_path, "lsgan", LSGAN_PLUGIN)
    pm = make_plugin_manager("lsgan+cgan", [path])
    impls = pm.hook.ganlab_discriminator_loss.get_hookimpls()
    assert impls[-1].plugin_name == "lsgan"  # pluggy calls the last in this list first
    loss = pm.hook.ganlab_discriminator_loss(scores=torch.ones(3), labels=None, is_real=True, config=None,
                                             latent=None)
    assert loss.item() == 0.0  # least squares, not BCE (which would be log(1 + e^-1) > 0)


def test_unknown_hook_name_is_refused_naming_plugin_and_hook(tmp_path):
    path = write_plugin(tmp_path, "typo", '''
        import ganlab
        from ganlab_plugins.gan import ganlab_generator, ganlab_discriminator

        @ganlab.hookimpl
        def ganlab_generator_los(scores):
            return scores.mean()
    ''')
    with pytest.raises(PluginError, match=r'"typo" implements "ganlab_generator_los".*ganlab_generator_loss'):
        make_plugin_manager("typo", [path])


def test_hook_with_unknown_arguments_is_refused(tmp_path):
    path = write_plugin(tmp_path, "badargs", '''
        import ganlab
        from ganlab_plugins.gan import ganlab_generator, ganlab_discriminator

        @ganlab.hookimpl
        def ganlab_generator_loss(scores, temperature):
            return scores.mean()
    ''')
    with pytest.raises(PluginError, match=r'"badargs".*temperature'):
        make_plugin_manager("badargs", [path])


def test_variant_without_generator_is_refused(tmp_path):
    path = write_plugin(tmp_path, "lossonly", LSGAN_PLUGIN)
    with pytest.raises(PluginError, match=r"provides no generator.*gan\+lossonly"):
        make_plugin_manager("lossonly", [path])


def test_two_plugins_with_one_name_are_refused(tmp_path):
    path = write_plugin(tmp_path, "cgan", LSGAN_PLUGIN)
    with pytest.raises(PluginError, match=r'Two plugins are named "cgan"'):
        discover_plugins([path])


def test_plugin_that_fails_to_import_is_reported_by_name(tmp_path):
    path = write_plugin(tmp_path, "broken", "raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match=r'Error importing plugin "broken".*RuntimeError: boom'):
        make_plugin_manager("gan+broken", [path])


def test_a_broken_plugin_that_a_run_does_not_name_is_not_imported(tmp_path):
    path = write_plugin(tmp_path, "broken", "raise RuntimeError('boom')\n")
    pm = make_plugin_manager("cgan", [path])
    assert pm.get_plugin("cgan") is not None and pm.get_plugin("broken") is None


def test_variants_lists_a_broken_plugin_as_broken_and_the_others_as_usual(tmp_path):
    from click.testing import CliRunner

    from ganlab.cli import cli

    path = write_plugin(tmp_path, "broken", "raise RuntimeError('boom')\n")
    result = CliRunner().invoke(cli, ["variants", "--plugin", path])
    assert result.exit_code == 0, result.output
    assert re.search(r"broken +BROKEN: Error importing plugin \"broken\".*RuntimeError: boom", result.output)
    assert re.search(r"cgan +The tutorial's conditional GAN", result.output)


def test_a_hook_function_without_the_marker_is_refused_naming_it(tmp_path):
    path = write_plugin(tmp_path, "unmarked", '''
        import ganlab
        from ganlab_plugins.gan import MLPGenerator

        def ganlab_generator_loss(scores):  # forgot @ganlab.hookimpl: would be silently ignored
            return -scores.mean()
    ''')
    with pytest.raises(PluginError, match=r'"unmarked" defines ganlab_generator_loss without the @ganlab.hookimpl'):
        make_plugin_manager("gan+unmarked", [path])


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(PluginError, match=r'Unknown variant "cgna".*Did you mean "cgan".*gan'):
        make_plugin_manager("cgna")


def test_plugin_installed_with_an_entry_point_is_found_and_used(tmp_path, monkeypatch):
    """A real distribution on sys.path (a .dist-info with entry_points.txt), as pip would install it."""
    (tmp_path / "ganlab_lsgan_test.py").write_text(LSGAN_PLUGIN)
    dist_info = tmp_path / "ganlab_lsgan_test-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganlab-lsgan-test\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[ganlab]\nlsgan = ganlab_lsgan_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sources = discover_plugins()
    assert sources["lsgan"].origin.startswith("ganlab-lsgan-test 0.1")
    pm = make_plugin_manager("gan+lsgan")
    assert "lsgan" in [impl.plugin_name for impl in pm.hook.ganlab_generator_loss.get_hookimpls()]


def test_ganlab_plugins_variable_limits_installed_plugins(monkeypatch):
    monkeypatch.setenv("GANLAB_PLUGINS", "gan")
    assert set(discover_plugins()) == {"gan"}


def test_settings_are_converted_and_validated():
    pm = make_plugin_manager("cgan")
    assert resolve_settings(pm, {"d_dropout": "0.25"})["d_dropout"] == 0.25
    with pytest.raises(ConfigError, match=r'"d_dropout" must be a float'):
        resolve_settings(pm, {"d_dropout": "lots"})
    with pytest.raises(ConfigError, match=r'Unknown setting "gp_weight".*d_activation, d_dropout, g_bn_momentum, init'):
        resolve_settings(pm, {"gp_weight": "5"})


def test_trace_prints_which_plugin_answered_each_call_at_level_2(monkeypatch, capsys):
    monkeypatch.setenv("GANLAB_TRACE_PLUGINS", "2")
    pm = make_plugin_manager("cgan")
    pm.hook.ganlab_is_conditional(spec=None, config=None)
    assert "ganlab_is_conditional: answered by cgan" in capsys.readouterr().err


def test_trace_table_counts_which_plugin_answered_each_hook():
    pm = make_plugin_manager("gan+hinge")
    answers = trace_hook_calls(pm, out=io.StringIO(), verbose=True)
    for _ in range(3):
        pm.hook.ganlab_generator_loss(scores=torch.zeros(2), labels=None, config=None, latent=None)
    pm.hook.ganlab_is_conditional(spec=None, config=None)
    table = trace_table(answers).splitlines()
    assert any(re.fullmatch(r"\[ganlab trace\] ganlab_generator_loss +hinge \(3\)", line) for line in table)
    assert any(re.fullmatch(r"\[ganlab trace\] ganlab_is_conditional +ganlab.defaults \(1\)", line) for line in table)


def test_trace_table_is_printed_once_when_a_command_ends(tmp_path, small_mnist_npz):
    env = {**os.environ, "GANLAB_TRACE_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-m", "ganlab", "run", "--variant", "cgan", "--steps", "2",
                             "--batch-size", "4", "--data", small_mnist_npz, "--final-eval-samples", "0",
                             "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("answered by (calls)") == 1
    assert re.search(r"ganlab_generator +cgan \(1\)", result.stderr)
    assert re.search(r"ganlab_discriminator_loss +ganlab.defaults \(\d+\)", result.stderr)
