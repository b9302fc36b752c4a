"""The `From` of an email as dispatches keep it: built with `email.headerregistry`, read back by both email
providers, so a display name with `,`, `;` or quotes stays one name and the address stays the address."""

import re
from email.headerregistry import Address
from email.utils import parseaddr

# `name <address>` at the end of the value, whatever the name holds (dispatches prepared before the name was
# quoted keep it unquoted: `Acme, Inc. <shop@example.com>`).
_NAME_AND_ADDRESS = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<address>[^<>\s]+)>\s*$", re.DOTALL)


def from_header(name: str | None, address: str) -> str:
    """The `From` value of a channel: `"Acme, Inc." <shop@example.com>`, the bare address without a name."""
    try:
        return str(Address(display_name=name or "", addr_spec=address))
    except ValueError:  # an address the parser does not take (a non-ASCII local part): kept as it is
        username, _, domain = address.rpartition("@")
        return str(Address(display_name=name or "", username=username, domain=domain))


def split_from(value: str) -> tuple[str, str]:
    """(display name, address) of a `From` value; the name is empty when there is none."""
    match = _NAME_AND_ADDRESS.match(value)
    if match is None:
        return "", parseaddr(value)[1]
    name = match["name"]
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = parseaddr(value)[0]  # a quoted name, with its escapes undone
    return name, match["address"]
