"""Audience conditions checked against the grammar of spec §3.2 (`shared.preparation.grammar`) at save time;
compiling them to SQL is the preparer's."""

from datetime import datetime
from typing import Any

from api.errors import ErrorTree
from shared.preparation.grammar import (
    CONDITION_KEYS,
    GROUPS,
    LIST_OPERATORS,
    MAX_DEPTH,
    MEMBER_FIELDS,
    OPERATORS,
    ORDER_OPERATORS,
    PRESENCE_OPERATORS,
)

Path = list[str | int]


def _is_number_or_date(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


def _check_value(tree: ErrorTree, path: Path, operator: str, condition: dict[str, Any]) -> None:
    value = condition.get("value")
    if operator in PRESENCE_OPERATORS:
        return
    if "value" not in condition:
        tree.add([*path, "value"], None, "presence", "must be present")
    elif operator in LIST_OPERATORS:
        if not isinstance(value, list) or not value or any(isinstance(v, dict | list) for v in value):
            tree.add([*path, "value"], value, "must_be_an_array", "must be a non-empty array of values")
    elif operator in ORDER_OPERATORS:
        if not _is_number_or_date(value):
            tree.add([*path, "value"], value, "not_a_number", "must be a number or an ISO 8601 date")
    elif not isinstance(value, str | int | float | bool) or value is None:
        tree.add([*path, "value"], value, "invalid", "must be a string, number or boolean")


def _check_field(tree: ErrorTree, path: Path, group: Any, field: Any) -> None:
    if not isinstance(field, str) or not field.strip():
        tree.add([*path, "field"], field, "presence", "must be a non-empty string")
    elif (
        group == "member"
        and field not in MEMBER_FIELDS
        and not (field.startswith("consents.") and len(field) > len("consents."))
    ):
        tree.add([*path, "field"], field, "inclusion", "is not a member attribute",
                 {"in": [*MEMBER_FIELDS, "consents.<slug>"]})  # fmt: skip


def _check_condition(tree: ErrorTree, path: Path, condition: Any, depth: int) -> None:
    if not isinstance(condition, dict):
        tree.add(path, condition, "must_be_an_object", "must be an object")
        return
    operator = condition.get("operator")
    if operator == "or":
        if depth >= MAX_DEPTH:
            tree.add([*path, "operator"], operator, "invalid", f"or-groups nest at most {MAX_DEPTH} levels")
            return
        check_conditions(tree, [*path, "conditions"], condition.get("conditions"), depth + 1)
        return
    for key in sorted(set(condition) - CONDITION_KEYS):
        tree.add([*path, key], condition[key], "unknown_attribute", "is not a known attribute")
    group = condition.get("condition_group")
    if group not in GROUPS:
        tree.add([*path, "condition_group"], group, "inclusion", "is not included in the list", {"in": list(GROUPS)})
    _check_field(tree, path, group, condition.get("field"))
    if operator not in OPERATORS:
        tree.add([*path, "operator"], operator, "inclusion", "is not included in the list", {"in": list(OPERATORS)})
        return
    _check_value(tree, path, operator, condition)


def check_conditions(tree: ErrorTree, path: Path, conditions: Any, depth: int = 0) -> None:
    """Every condition (and or-group) of a list, errors under each one's index; an empty list is refused."""
    if not isinstance(conditions, list) or not conditions:
        tree.add(path, conditions, "must_be_an_array_of_objects", "must be a non-empty array of conditions")
        return
    for index, condition in enumerate(conditions):
        _check_condition(tree, [*path, index], condition, depth)
