"""The audience condition grammar of spec §3.2, defined once: the api checks conditions against it at save time
(`api.conditions`), the preparer compiles them to SQL (`shared.preparation.audience`)."""

GROUPS = ("member_properties", "member")
OPERATORS = ("match", "not_match", "contains", "starts_with", "in", "any", "all", "gt", "gte", "lt", "lte",
             "exists", "not_exists")  # fmt: skip
# The member columns a condition may name (only these are ever written into SQL text).
MEMBER_FIELDS = ("id", "msisdn", "email", "app_token", "app_platform", "sms_status", "email_status", "push_status")
LIST_OPERATORS = frozenset({"in", "any", "all"})
ORDER_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
PRESENCE_OPERATORS = frozenset({"exists", "not_exists"})
CONDITION_KEYS = frozenset({"condition_group", "field", "operator", "value", "type"})
MAX_DEPTH = 5
