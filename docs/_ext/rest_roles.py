"""A griffe extension: the docstrings' reST roles and literal-block markers, rendered as Markdown.

The package's docstrings are reST (``:param:`` fields, which mkdocstrings' sphinx parser reads),
and they name other objects with Sphinx roles (``:class:`FeatureStore```, ``:mod:`.sources```,
``:func:`~frame_select_env.core.reward.selection_reward```). mkdocstrings renders Markdown and
knows no roles, so before the docstrings are parsed each role becomes an *optional*
cross-reference: the name is resolved in the docstring's own scope (its imports and members, as
Python would), and the link is made when that object has a page in the API reference, or the
name is shown as code when it has none (an optional reference never warns, so
``mkdocs build --strict`` stays clean). A paragraph ending in ``::`` (reST's marker of a literal
block; the indented block after it is already a Markdown code block) ends in ``:`` instead.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?P<role>mod|class|func|meth|attr|data|exc|obj|const):"
                  r"`(?P<body>[^`]+)`")
TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$")
LITERAL_MARKER = re.compile(r"(?<=\S)::$", flags=re.MULTILINE)
CALLABLE_ROLES = ("func", "meth")


def _candidates(obj: griffe.Object, target: str) -> list[str]:
    """Full paths ``target`` may name from ``obj``'s scope, the likeliest first."""
    if target.startswith("."):  # Sphinx's relative name: from the current module (or package)
        module = obj if obj.is_module else obj.module
        return [f"{module.path}{target}", f"{module.path.rsplit('.', 1)[0]}{target}"]
    head, _, rest = target.partition(".")
    found: list[str] = []
    try:
        resolved = obj.resolve(head)
        found.append(f"{resolved}.{rest}" if rest else resolved)
    except griffe.NameResolutionError:
        pass
    found.append(target)  # already a full path, or something outside the package
    return found


def _known(obj: griffe.Object, path: str) -> bool:
    """Whether ``path`` names an object griffe has loaded (any package loaded so far)."""
    try:
        obj.modules_collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return True


def _render(obj: griffe.Object, match: re.Match[str]) -> str:
    """One role as an optional cross-reference (HTML that mkdocs-autorefs resolves)."""
    body = match["body"].strip()
    titled = TITLED.match(body)
    title, target = (titled["title"], titled["target"]) if titled else (None, body)
    short = target.startswith("~")
    target = target.lstrip("~")
    if title is None:
        title = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
        if match["role"] in CALLABLE_ROLES:
            title += "()"
    code = f"<code>{html.escape(title)}</code>"
    paths = [p for p in _candidates(obj, target) if "." in p]
    path = next((p for p in paths if _known(obj, p)), paths[0] if paths else None)
    if path is None:  # a bare name nothing in scope defines: shown as code
        return code
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def rewrite(obj: griffe.Object) -> None:
    """Rewrite ``obj``'s docstring and its members' in place (aliases are left alone)."""
    if obj.docstring is not None:
        text = ROLE.sub(lambda m: _render(obj, m), obj.docstring.value)
        obj.docstring.value = LITERAL_MARKER.sub(":", text)
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            rewrite(member)


class RestRoles(griffe.Extension):
    """Rewrites a package's docstrings once it is loaded, before mkdocstrings parses them."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite every docstring of the package just loaded.

        :param pkg: the top-level package griffe loaded.
        :param kwargs: the loader and what else griffe passes (unused).
        """
        rewrite(pkg)
