"""Liquid templates (Shopify semantics): compiled once, checked at save time, rendered per recipient."""

from collections.abc import Mapping
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError, LiquidSyntaxError, ResourceLimitError


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


class RenderError(ValueError):
    """A template that parsed but failed while rendering for one recipient."""


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


def compile_content(content: Mapping[str, Any]) -> dict[str, BoundTemplate]:
    """Compile every string attribute of a template's content (non-strings are kept out)."""
    return {key: compile_template(value) for key, value in content.items() if isinstance(value, str)}


def render_content(
    compiled: Mapping[str, BoundTemplate], content: Mapping[str, Any], variables: Mapping[str, Any]
) -> dict[str, Any]:
    """Render the compiled attributes with `variables`; other attributes are copied as they are."""
    rendered = dict(content)
    try:
        for key, template in compiled.items():
            rendered[key] = template.render(**variables)
    except LiquidError as exc:
        raise RenderError(f"{key}: {exc}") from exc
    return rendered
