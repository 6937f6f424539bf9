"""The one way geo-risk makes HTML: templates with autoescape and a single escaper."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

import geo_risk
from geo_risk.render import templating
from geo_risk.render.templating import Markup, escape

PAYLOAD = '<script>x()</script> <img src=x onerror="y()"> \'a\' & ` ${z}'


def test_escape_gives_the_html_escape_form_and_leaves_markup_alone() -> None:
    assert escape(PAYLOAD) == html.escape(PAYLOAD, quote=True)
    assert escape(None) == ""
    assert escape(Markup("<b>ok</b>")) == "<b>ok</b>"
    assert escape(escape(PAYLOAD)) == html.escape(PAYLOAD, quote=True)  # never escaped twice


def test_every_printed_value_is_escaped_once() -> None:
    env = templating.environment()
    page = env.from_string('<a title="{{ t }}">{{ t }}{{ m }}</a>').render(
        t=PAYLOAD, m=Markup("<i>x</i>"))
    assert page.count(html.escape(PAYLOAD, quote=True)) == 2
    assert "<script>" not in page and "<i>x</i>" in page


def test_undefined_template_variable_is_an_error() -> None:
    with pytest.raises(Exception, match="undefined"):
        templating.environment().from_string("{{ nope }}").render()


def test_templates_ship_as_package_data() -> None:
    names = set(templating.environment().list_templates())
    for name in ("brief.html.j2", "brief_parts.html.j2", "brief.css", "map.html.j2",
                 "matrix.html.j2", "backtest.html.j2", "backtest_parts.html.j2",
                 "backtest.css"):
        assert name in names
    pyproject = (Path(geo_risk.__file__).parents[1] / "pyproject.toml").read_text()
    assert '"templates/*.j2"' in pyproject and '"templates/*.css"' in pyproject


def test_no_module_escapes_html_by_hand() -> None:
    root = Path(geo_risk.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "templating.py"
                 and ("html.escape" in (t := p.read_text()) or "import html\n" in t
                      or "from html import" in t)]
    assert offenders == []


def test_compiled_templates_are_kept_for_the_next_run_and_a_cache_that_cannot_be_written_is_skipped(
        tmp_path: Path) -> None:
    import jinja2

    from geo_risk.render.templating import _BytecodeCache, environment

    assert isinstance(environment().bytecode_cache, jinja2.FileSystemBytecodeCache)
    loader = jinja2.DictLoader({"t.html": "<p>{{ x }}</p>"})
    kept = jinja2.Environment(loader=loader, autoescape=True,
                              bytecode_cache=_BytecodeCache(str(tmp_path)))
    assert kept.get_template("t.html").render(x="<b>") == "<p>&lt;b&gt;</p>"
    assert list(tmp_path.iterdir())  # the compiled code was written for the next process
    gone = jinja2.Environment(loader=loader, autoescape=True,
                              bytecode_cache=_BytecodeCache(str(tmp_path / "missing")))
    assert gone.get_template("t.html").render(x="<b>") == "<p>&lt;b&gt;</p>"
