"""Detector library: pure functions that find personal data in strings.

`DETECTORS` maps an entity name (what rule files refer to) to its detector;
`ENTITIES` is every name a rule may use, including the known-identity
entities that need an identities list. `NAMED` gives, per field kind, the
detectors that judge an entity in fields named after it (a random GUID under
``MachineId``). `detect()` runs them over a pandas Series. Adding a detector:
write it in the matching module, import it here and add it to `DETECTORS`, and
add rows to ``tests/detectors/test_<module>.py``.
"""

from __future__ import annotations

from audit.detectors.accounts import ACCOUNT_ID, XUID
from audit.detectors.base import MAX_VALUE_LEN, CompositeDetector, Detector, Match, PatternDetector
from audit.detectors.contact import EMAIL, PHONE, SIP_URI
from audit.detectors.credentials import SECRET
from audit.detectors.filters import FILTERS
from audit.detectors.hardware import DEVICE_SERIAL, GUID_V1, MACHINE_ID, PRODUCT_ID, PRODUCT_KEY
from audit.detectors.identifiers import (
    IdInfo,
    classify_identifier,
    guid_v1_details,
    is_hashed_id,
    random_guid_problem,
)
from audit.detectors.known import (
    KNOWN_IDENTITY,
    KNOWN_ORGANIZATION,
    Identity,
    KnownIdentities,
    load_identities,
)
from audit.detectors.named import NAMED
from audit.detectors.names import PERSON_NAME
from audit.detectors.national import IBAN, NATIONAL_ID
from audit.detectors.network import IP_ADDRESS, MAC_ADDRESS
from audit.detectors.organization import ORG_DOMAIN, TENANT_KEY
from audit.detectors.payment import CARD_NUMBER

DETECTORS: dict[str, Detector] = {
    "EMAIL": EMAIL,
    "SIP_URI": SIP_URI,
    "PHONE": PHONE,
    "IP_ADDRESS": IP_ADDRESS,
    "MAC_ADDRESS": MAC_ADDRESS,
    "CARD_NUMBER": CARD_NUMBER,
    "IBAN": IBAN,
    "NATIONAL_ID": NATIONAL_ID,
    "SECRET": SECRET,
    "PERSON_NAME": PERSON_NAME,
    "ORG_DOMAIN": ORG_DOMAIN,
    "TENANT_KEY": TENANT_KEY,
    "DEVICE_SERIAL": DEVICE_SERIAL,
    "PRODUCT_KEY": PRODUCT_KEY,
    "PRODUCT_ID": PRODUCT_ID,
    "MACHINE_ID": MACHINE_ID,
    "GUID_V1": GUID_V1,
    "XUID": XUID,
    "ACCOUNT_ID": ACCOUNT_ID,
}

#: Every entity name a rule file may use.
ENTITIES: tuple[str, ...] = (*DETECTORS, KNOWN_IDENTITY, KNOWN_ORGANIZATION)

from audit.detectors.decode import expand  # noqa: E402 - after the registry it reads
from audit.detectors.scan import detect, detect_text  # noqa: E402

__all__ = [
    "DETECTORS",
    "ENTITIES",
    "FILTERS",
    "KNOWN_IDENTITY",
    "KNOWN_ORGANIZATION",
    "MAX_VALUE_LEN",
    "NAMED",
    "CompositeDetector",
    "Detector",
    "IdInfo",
    "Identity",
    "KnownIdentities",
    "Match",
    "PatternDetector",
    "classify_identifier",
    "detect",
    "detect_text",
    "expand",
    "guid_v1_details",
    "is_hashed_id",
    "load_identities",
    "random_guid_problem",
]
