"""The audience conditions of spec §3.2 evaluated in Python over one member: the tests' reference for what the
SQL of `shared.preparation.audience.compile_conditions` must select (the semantics are in that module's docstring)."""

from collections.abc import Callable
from typing import Any

from shared.preparation.grammar import ORDER_OPERATORS


def _value_of(condition: dict[str, Any], member: dict[str, Any]) -> Any:
    field = str(condition["field"])
    if condition["condition_group"] == "member_properties":
        current: Any = member.get("properties") or {}
        path = field.split(".")
    elif field.startswith("consents."):
        current, path = member.get("consents") or {}, [field.removeprefix("consents."), "status"]
    else:
        return member.get(field)
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b) and not isinstance(a, str) and not isinstance(b, str)


def evaluate(conditions: list[dict[str, Any]], member: dict[str, Any]) -> bool:
    """The same conditions evaluated in Python over one member (the tests' reference)."""
    return all(_evaluate_one(c, member) for c in conditions)


def _evaluate_one(condition: dict[str, Any], member: dict[str, Any]) -> bool:
    operator = condition["operator"]
    if operator == "or":
        return any(_evaluate_one(c, member) for c in condition["conditions"])
    value = _value_of(condition, member)
    wanted: Any = condition.get("value")
    is_text = isinstance(value, str)
    checks: dict[str, Callable[[], bool]] = {
        "match": lambda: value is not None and _same(value, wanted),
        "not_match": lambda: not (value is not None and _same(value, wanted)),
        "contains": lambda: is_text and str(wanted).lower() in value.lower(),
        "starts_with": lambda: is_text and value.lower().startswith(str(wanted).lower()),
        "in": lambda: value is not None and any(_same(value, w) for w in wanted),
        "any": lambda: isinstance(value, list) and any(w in value for w in wanted),
        "all": lambda: isinstance(value, list) and all(w in value for w in wanted),
        "exists": lambda: value is not None,
        "not_exists": lambda: value is None,
    }
    if operator in ORDER_OPERATORS:
        return _order(operator, value, wanted)
    return bool(checks[operator]())


def _order(operator: str, value: Any, wanted: Any) -> bool:
    numeric = isinstance(wanted, int | float) and not isinstance(wanted, bool)
    if numeric and not (isinstance(value, int | float) and not isinstance(value, bool)):
        return False
    if not numeric and not isinstance(value, str):
        return False
    left, right = (value, wanted) if numeric else (str(value), str(wanted))
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[operator]
