"""What every email provider builds the same way from a dispatch: the one-click unsubscribe headers."""


def unsubscribe_headers(url: str | None) -> dict[str, str]:
    """`List-Unsubscribe` with one-click (RFC 8058) for a marketing mail with its link; nothing without one."""
    if not url:
        return {}
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
