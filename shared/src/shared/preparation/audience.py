"""The audience condition grammar of spec §3.2 compiled to parameterised SQL over `members m`.

Every field becomes one jsonb expression (a property path, a member column as jsonb, or a consent's
status), so every operator has one meaning whatever the field. Values are always parameters; only
column names from MEMBER_FIELDS are written into the SQL text. The semantics, which the tests'
oracle (`tests/audience_oracle.py`) restates in Python:
- match: strings equal ignoring case; other values equal as JSON. not_match is its negation (a
  missing field does not match).
- contains, starts_with: strings only, ignoring case. in: match against any listed value.
- any, all: the field is an array holding any / all of the listed values (exactly).
- gt, gte, lt, lte: numbers compare as numbers, strings (ISO 8601 dates) as strings.
- exists: present and not null; not_exists: its negation. or: any of its conditions.

jsonb parameters are passed as Python values: the services' pools encode them with the orjson codec.
"""

from typing import Any

from shared.preparation.grammar import MEMBER_FIELDS, ORDER_OPERATORS

ORDER_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
assert set(ORDER_SQL) == ORDER_OPERATORS


class UnknownCondition(ValueError):
    """A condition the grammar does not have (the api refuses these at save time)."""


class _Params:
    def __init__(self, start: int) -> None:
        self.values: list[Any] = []
        self.start = start

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${self.start + len(self.values)}"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _field(condition: dict[str, Any], params: _Params) -> str:
    field = str(condition["field"])
    if condition["condition_group"] == "member_properties":
        return f"(m.properties #> {params.add(field.split('.'))}::text[])"
    if field in MEMBER_FIELDS:
        return f"to_jsonb(m.{field})"
    if field.startswith("consents."):
        return f"(m.consents #> {params.add([field.removeprefix('consents.'), 'status'])}::text[])"
    raise UnknownCondition(f"unknown member field {field!r}")


def _match(expr: str, value: Any, params: _Params) -> str:
    if isinstance(value, str):
        return f"(jsonb_typeof({expr}) = 'string' AND lower({expr} #>> '{{}}') = lower({params.add(value)}))"
    return f"({expr} = {params.add(value)}::jsonb)"


def _compile_one(condition: dict[str, Any], params: _Params) -> str:  # noqa: PLR0911 - one return per operator
    operator = condition.get("operator")
    if operator == "or":
        return "(" + " OR ".join(_compile_one(c, params) for c in condition["conditions"]) + ")"
    expr = _field(condition, params)
    value: Any = condition.get("value")
    text = f"({expr} #>> '{{}}')"
    string = f"jsonb_typeof({expr}) = 'string'"
    match operator:
        case "match":
            return f"coalesce({_match(expr, value, params)}, false)"
        case "not_match":
            return f"NOT coalesce({_match(expr, value, params)}, false)"
        case "contains":
            return f"coalesce({string} AND {text} ILIKE {params.add('%' + _escape_like(str(value)) + '%')}, false)"
        case "starts_with":
            return f"coalesce({string} AND {text} ILIKE {params.add(_escape_like(str(value)) + '%')}, false)"
        case "in":
            return "(" + " OR ".join(f"coalesce({_match(expr, v, params)}, false)" for v in value) + ")"
        case "any" | "all":
            joiner = " OR " if operator == "any" else " AND "
            contained = joiner.join(f"{expr} @> {params.add([v])}::jsonb" for v in value)
            return f"coalesce(jsonb_typeof({expr}) = 'array' AND ({contained}), false)"
        case "gt" | "gte" | "lt" | "lte":
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = f"CASE WHEN jsonb_typeof({expr}) = 'number' THEN {text}::numeric END"
                return f"coalesce({number} {ORDER_SQL[operator]} {params.add(value)}::numeric, false)"
            compared = f"CASE WHEN {string} THEN {text} END"
            return f'coalesce({compared} COLLATE "C" {ORDER_SQL[operator]} {params.add(str(value))}, false)'
        case "exists":
            return f"coalesce(jsonb_typeof({expr}), 'null') <> 'null'"
        case "not_exists":
            return f"coalesce(jsonb_typeof({expr}), 'null') = 'null'"
    raise UnknownCondition(f"unknown operator {operator!r}")


def compile_conditions(conditions: list[dict[str, Any]], first_param: int = 0) -> tuple[str, list[Any]]:
    """(SQL boolean over `members m`, its parameters numbered from first_param + 1); all conditions hold."""
    params = _Params(first_param)
    sql = " AND ".join(_compile_one(c, params) for c in conditions) or "true"
    return sql, params.values
