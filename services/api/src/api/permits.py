"""Permit names of spec §1.1 and the services of spec §1.2."""

from dataclasses import dataclass

from shared.domain import MARKETING_SERVICES

MESSAGES_CREATE = "Messages:Api:Messages:Create"
MESSAGES_GET = "Messages:Api:Messages:Get"
MESSAGES_UPDATE = "Messages:Api:Messages:Update"
MESSAGES_DESTROY = "Messages:Api:Messages:Destroy"
MESSAGES_LIST = "Messages:Api:Messages:List"
SENDINGS_CREATE = "Messages:Api:Sendings:Create"
SENDINGS_GET = "Messages:Api:Sendings:Get"
SENDINGS_UPDATE = "Messages:Api:Sendings:Update"
SENDINGS_SET_PRIORITY = "Messages:Api:Sendings:SetPriority"
SENDINGS_WITHOUT_CONSENTS_CHECKS = "Messages:Api:Sendings:WithoutConsentsChecks"
DISPATCHES_LIST = "Messages:Api:Dispatches:List"
DISPATCHES_MEMBERS_INDEX = "Messages:Api:Dispatches:Members:Index"
BULKS_PROCESS = "Messages:Api:Bulks:Process"
SETTINGS_SHOW = "Messages:Api:Settings:Show"
TEMPLATES_LIST = "Messages:Api:Templates:List"
TEMPLATES_GET = "Messages:Api:Templates:Get"
TEMPLATES_CREATE = "Messages:Api:Templates:Create"
TEMPLATES_UPDATE = "Messages:Api:Templates:Update"
TEMPLATES_DESTROY = "Messages:Api:Templates:Destroy"
MESSAGES_HISTORY_LIST = "BL:Api:MessagesHistory:List"


@dataclass(frozen=True)
class Service:
    """A messaging service: the `{service}` path segment."""

    name: str
    permit_suffix: str
    marketing: bool

    @property
    def permit(self) -> str:
        return f"Messages:Api:Messages:UseService:{self.permit_suffix}"


SERVICES = {
    s.name: s
    for s in (
        Service("generic", "Generic", marketing="generic" in MARKETING_SERVICES),
        Service("campaigns", "Campaigns", marketing="campaigns" in MARKETING_SERVICES),
        Service("campaigns_testing", "CampaignsTesting", marketing="campaigns_testing" in MARKETING_SERVICES),
        Service("tenants", "Tenants", marketing="tenants" in MARKETING_SERVICES),
        Service("tenants_testing", "TenantsTesting", marketing="tenants_testing" in MARKETING_SERVICES),
        Service("tem_documents", "TemDocuments", marketing="tem_documents" in MARKETING_SERVICES),
        Service(
            "tem_documents_reminders",
            "TemDocumentsReminders",
            marketing="tem_documents_reminders" in MARKETING_SERVICES,
        ),
    )
}

ALL_PERMITS = (
    MESSAGES_CREATE,
    MESSAGES_GET,
    MESSAGES_UPDATE,
    MESSAGES_DESTROY,
    MESSAGES_LIST,
    SENDINGS_CREATE,
    SENDINGS_GET,
    SENDINGS_UPDATE,
    SENDINGS_SET_PRIORITY,
    SENDINGS_WITHOUT_CONSENTS_CHECKS,
    DISPATCHES_LIST,
    DISPATCHES_MEMBERS_INDEX,
    BULKS_PROCESS,
    SETTINGS_SHOW,
    TEMPLATES_LIST,
    TEMPLATES_GET,
    TEMPLATES_CREATE,
    TEMPLATES_UPDATE,
    TEMPLATES_DESTROY,
    MESSAGES_HISTORY_LIST,
    *(s.permit for s in SERVICES.values()),
)


def normalize_permit(permit: str) -> str:
    """`...:Index` is accepted as a synonym of `...:List`; both spellings exist in the wild."""
    if permit.endswith(":Index") and permit != DISPATCHES_MEMBERS_INDEX:
        return permit.removesuffix(":Index") + ":List"
    return permit
