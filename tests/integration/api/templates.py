"""What the template tests share: the endpoint, the contents per type, and small helpers."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.api.conftest import Api

TEMPLATES = "/v1/messages/templates"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONTENT: dict[str, dict[str, Any]] = {
    "plain": {"body": "Hi {{ first_name }}"},
    "generic": {"body": "<p>{{ content }}</p>", "subject": "[News] {{ content }}"},
    "email": {"body": "<html>{{ content }}</html>", "subject": "{{ content }}", "preheader": "Read on"},
    "bee_email": {"body": "<html>bee</html>", "subject": "Bee news", "bee_json": {"page": {"rows": []}}},
    "push": {"body": "{{ content }}", "subject": "App", "url": "https://example.com/app"},
}
# Spec §2.5, read as `template type: the wrapper types it accepts`.
ALLOWED_WRAPPERS = {
    "plain": {"plain", "generic", "email", "bee_email", "push"},
    "generic": {"generic", "email", "bee_email", "push"},
    "email": {"email", "bee_email", "generic"},
    "push": {"push", "generic"},
    "bee_email": {"generic"},
}


async def create(api: Api, headers: dict[str, str], template_type: str = "plain", **fields: Any) -> dict[str, Any]:
    body = {"name": f"A {template_type} template", "type": template_type, "content": CONTENT[template_type], **fields}
    status, created = await api.call("POST", TEMPLATES, headers, {"template": body})
    assert status == 201, created
    template: dict[str, Any] = created["template"]
    return template


def error_of(details: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = details
    for key in path:
        node = node[key]
    assert len(node) == 1, node
    error: dict[str, Any] = node[0]
    return error
