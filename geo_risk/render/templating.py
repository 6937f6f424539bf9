"""The one way geo-risk makes HTML: jinja2 templates with autoescape, and markupsafe.

Every page (weekly brief, interactive map, admin matrix, backtest report) is a template under
``geo_risk/render/templates/`` (package data), rendered by :func:`render` with autoescape on:
any value a template prints is escaped unless it is :class:`Markup`. Python code that builds a
small fragment itself uses :func:`escape` or ``Markup("<b>{}</b>").format(value)`` (which
escapes ``value``); nothing else in geo-risk escapes HTML.

Safe by construction: a value from data is escaped exactly once, where it meets HTML, and
:class:`Markup` marks what is already HTML so it is never escaped twice. Templates are loaded
with :class:`jinja2.PackageLoader`, so an installed wheel or an editable install finds them.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
import markupsafe
from markupsafe import Markup

__all__ = ["Markup", "environment", "escape", "macros", "render"]

#: Folder of :mod:`geo_risk.render` that holds the templates (package data).
TEMPLATE_DIR = "templates"


def escape(value: Any) -> Markup:
    """Escape any value as text for HTML content or a quoted attribute.

    :func:`markupsafe.escape` (``&``, ``<``, ``>``, both quotes; :class:`Markup` and anything
    with ``__html__`` pass through unchanged; ``None`` becomes empty text), with the quotes
    written ``&quot;`` and ``&#x27;`` as :func:`html.escape` writes them, so pages keep the
    entity form they have always had. Templates apply it to every printed value.

    Parameters
    ----------
    value : Any
        Text, number, None or Markup.

    Returns
    -------
    markupsafe.Markup
        Safe to put in HTML content or a double- or single-quoted attribute.
    """
    if hasattr(value, "__html__"):
        return Markup(value.__html__())
    out = markupsafe.escape("" if value is None else value)
    # A quote's entity can only come from a quote: a literal "&" became "&amp;" first.
    return Markup(str(out).replace("&#34;", "&quot;").replace("&#39;", "&#x27;"))


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """jinja2's per-user bytecode cache, skipped when it cannot be written (a full or
    read-only disk must not stop a page being rendered)."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    # Compiling the templates took ~0.13 s of every run; jinja2 keeps the compiled code in a
    # folder of the user's own (created private in the temp dir) and recompiles whenever a
    # template's source or the Python version differs.
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):  # no private temp folder to be had
        return None


@functools.cache
def environment() -> jinja2.Environment:
    """The shared template environment (autoescape on, undefined names are errors).

    Returns
    -------
    jinja2.Environment
        Cached; templates are compiled once per process (and their compiled code kept in
        jinja2's per-user bytecode cache for the next process). ``finalize`` is
        :func:`escape`, so a printed value is escaped by it (autoescape then sees Markup and
        leaves it).
    """
    return jinja2.Environment(
        loader=jinja2.PackageLoader("geo_risk.render", TEMPLATE_DIR),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        finalize=escape,  # every printed value goes through the one escaper above
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, /, **context: Any) -> str:
    """Render one template of ``geo_risk/render/templates``.

    Parameters
    ----------
    name : str
        Template file name, e.g. ``"brief.html.j2"``.
    **context
        Template variables. Plain values are escaped where printed; :class:`Markup` is not.

    Returns
    -------
    str
        The rendered text.
    """
    return environment().get_template(name).render(**context)


def macros(name: str, /) -> Any:
    """The macros of a template, callable from Python (each returns :class:`Markup`).

    Parameters
    ----------
    name : str
        Template file name, e.g. ``"brief_parts.html.j2"``.

    Returns
    -------
    jinja2.environment.TemplateModule
        Attribute access gives the template's macros.
    """
    return _module(name)


@functools.cache
def _module(name: str) -> Any:
    return environment().get_template(name).module
