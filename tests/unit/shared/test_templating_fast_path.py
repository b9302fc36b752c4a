"""The fast path of simple templates renders exactly what Liquid renders, for every kind of value and path."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shared.templating import CompiledTemplate, compile_template

TEMPLATES = [
    "Hei {{ first_name }}! Nye tilbud i {{ city }}. Du har {{ points }} poeng.",
    "{{ member.first_name }}/{{ member.properties.city }}/{{ sending.id }}",
    "{{- name -}} , {{ missing }}{{ missing.deep }}|{{ tags }}|{{ tags.size }}|{{ tags.first }}",
    "{{ name.size }} {{ flag }} {{ nothing }} {{ nothing.more }} {{ number }} {{ ratio }} {{ nested.list.last }}",
    "{{ a['b'] }} {{ a.b.c }} {{ member.size }}",
    "plain text only",
    "",
    "{{ name | upcase }} is not simple",  # filters: always Liquid
    "{% if flag %}yes{% endif %} {{ name }}",  # tags: always Liquid
]

VALUES: list[Any] = ["Piotr", "", "Æøå ü", 0, 42, -7, 1.5, 2.0, True, False, None, ["vip", "new"], [], {"x": 1},
                     {"size": "custom"}, [1, [2, 3]], {"b": {"c": "deep"}}]  # fmt: skip
NAMES = ["first_name", "city", "points", "name", "tags", "flag", "nothing", "number", "ratio", "a", "nested"]


def random_variables(rng: random.Random) -> dict[str, Any]:
    variables: dict[str, Any] = {n: rng.choice(VALUES) for n in NAMES if rng.random() < 0.8}
    variables["nested"] = {"list": rng.choice([["a", "b"], [], "text", {"last": "key"}])}
    variables["member"] = rng.choice([{"first_name": "Kari", "properties": {"city": "Oslo"}}, {}, None, "x"])
    variables["sending"] = {"id": rng.randint(1, 10**12)}
    return variables


@pytest.mark.parametrize("source", TEMPLATES)
def test_the_fast_path_renders_exactly_what_liquid_renders(source: str) -> None:
    template = compile_template(source)
    compiled = CompiledTemplate(template)
    rng = random.Random(source)
    for _ in range(300):
        variables = random_variables(rng)
        assert compiled.render(variables) == template.render(**variables), variables


def test_only_text_and_plain_outputs_take_the_fast_path() -> None:
    simple = [CompiledTemplate(compile_template(s))._parts is not None for s in TEMPLATES]
    assert simple == [True, True, True, True, True, True, True, False, False]
