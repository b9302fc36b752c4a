"""Liquid templates (Shopify semantics): compiled once, checked at save time, rendered per recipient."""

from collections.abc import Callable, Mapping
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions.filtered import FilteredExpression
from liquid.builtin.expressions.path import Path
from liquid.builtin.output import OutputNode
from liquid.exceptions import LiquidError, LiquidSyntaxError, ResourceLimitError
from liquid.stringify import to_liquid_string


class _LimitedEnvironment(Environment):
    """Shopify semantics (undefined variables render empty), with limits so no template can hang a worker."""

    loop_iteration_limit = 10_000
    output_stream_limit = 1_000_000


_ENV = _LimitedEnvironment()


class TemplateSyntaxError(ValueError):
    """A template string that Liquid cannot parse; `message` is the parser's own words."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source
        self.message = message


class TemplateLimitError(ValueError):
    """A template that exceeds the rendering limits even without any variable (a loop or output explosion)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def compile_template(source: str) -> BoundTemplate:
    """Parse `source` once; raises TemplateSyntaxError with the parser's message."""
    try:
        return _ENV.from_string(source)
    except LiquidSyntaxError as exc:
        raise TemplateSyntaxError(source, str(exc.message or exc)) from exc


def check_template(source: str) -> BoundTemplate:
    """Compile `source` and render it once without variables, so static loops and explosions are caught."""
    template = compile_template(source)
    try:
        template.render()
    except ResourceLimitError as exc:
        raise TemplateLimitError(str(exc.message or exc)) from exc
    except LiquidError:
        pass  # other failures depend on the variables of each recipient: they fail that dispatch only
    return template


class _Fallback(Exception):
    """The fast path met something only Liquid itself knows how to render."""


class CompiledTemplate:
    """A parsed template, rendered per recipient.

    Most message templates are text and `{{ name }}` / `{{ a.b }}` outputs without filters. Those render
    here without Liquid's machinery (4-5 times faster): each output is a plain key lookup through dicts,
    stringified by Liquid's own `to_liquid_string`. A top-level name that is missing renders empty, as
    Liquid's default `Undefined` does; anything else that is not a plain dict key (a string's `size`, a
    list's `first`, a missing nested key) renders that recipient through Liquid, so the output is always
    exactly Liquid's.
    """

    __slots__ = ("_fast", "_parts", "template")

    def __init__(self, template: BoundTemplate) -> None:
        self.template = template
        self._parts = self._simple_parts(template)
        self._fast = None if self._parts is None else _fast_renderer(self._parts)

    @staticmethod
    def _simple_parts(template: BoundTemplate) -> tuple[str | tuple[str, ...], ...] | None:
        parts: list[str | tuple[str, ...]] = []
        for node in template.nodes:
            if type(node) is ContentNode:
                parts.append(node.text)
                continue
            expression = getattr(node, "expression", None)
            if not (type(node) is OutputNode and type(expression) is FilteredExpression) or expression.filters:
                return None
            path = expression.left
            if type(path) is not Path or not path.path or not all(type(p) is str for p in path.path):
                return None
            parts.append(tuple(str(p) for p in path.path))
        return tuple(parts)

    def render(self, variables: Mapping[str, Any]) -> str:
        if self._fast is not None:
            try:
                return self._fast(variables)
            except _Fallback:
                pass
        return self.template.render(**variables)


def _text(value: Any) -> str:
    """A top-level name's output: missing and nil render empty (Liquid's `Undefined` and `nil`)."""
    return value if type(value) is str else to_liquid_string(value, autoescape=False)


def _path(variables: Mapping[str, Any], path: tuple[str, ...]) -> str:
    if path[0] not in variables:
        return ""  # undefined renders empty, whatever follows it
    value: Any = variables[path[0]]
    for key in path[1:]:
        if type(value) is not dict or key not in value:
            raise _Fallback
        value = value[key]
    return to_liquid_string(value, autoescape=False)


def _fast_renderer(parts: tuple[str | tuple[str, ...], ...]) -> Callable[[Mapping[str, Any]], str]:
    """One Python expression joining the text and the lookups (the parts' reprs are the only code in it)."""
    pieces = [
        repr(p) if isinstance(p, str) else f"_text(v.get({p[0]!r}))" if len(p) == 1 else f"_path(v, {p!r})"
        for p in parts
    ]
    namespace: dict[str, Any] = {"_text": _text, "_path": _path}
    exec(f"def render(v):\n    return ''.join([{', '.join(pieces)}])\n", namespace)  # noqa: S102 - reprs only
    renderer: Callable[[Mapping[str, Any]], str] = namespace["render"]
    return renderer


def compile_content(content: Mapping[str, Any]) -> dict[str, CompiledTemplate]:
    """Compile every string attribute of a template's content (non-strings are kept out)."""
    return {key: CompiledTemplate(compile_template(value)) for key, value in content.items() if isinstance(value, str)}
