"""Organisation identifiers: ORG_DOMAIN and TENANT_KEY.

Examples flagged::

    ORG_DOMAIN  "contoso.com", "FederationPartner=Microsoft.com", "contoso.onmicrosoft.com"
    TENANT_KEY  "tenantId=72f988bf-86f1-41af-91ab-2d7cd011db47", '"tid": "72f9..."'

Not flagged: the domain of an e-mail address (that is the EMAIL), version
strings (``10.0.2.15``), file names (``app.exe``, ``crash.dmp``, ``setup.py``),
.NET names (``System.IO``). A bare GUID is not a
TENANT_KEY (it is just a GUID); only a tenant-named assignment is.
Why: census data must not identify the organisation; usage data may name it
(``tenant``, FederationPartner), so rules choose where ORG_DOMAIN applies.
"""

from __future__ import annotations

from audit.detectors._domains import is_domain
from audit.detectors.base import GUID_TEXT, PatternDetector

_LABEL = r"[A-Za-z0-9-]{1,63}"

ORG_DOMAIN = PatternDetector(
    name="org-domain",
    entity="ORG_DOMAIN",
    # Not after "@" or "%" (the "%40" of a URL-encoded address): that domain is the address's.
    pattern=rf"(?<![\w.@%-]){_LABEL}(?:\.{_LABEL}){{1,8}}(?![\w@-]|\.\w)",
    prefilter=r"[A-Za-z0-9-]\.[A-Za-z]{2}",
    explanation="ORG_DOMAIN via pattern; DNS labels and known top-level domain",
    validate=is_domain,
)

_GUID = GUID_TEXT

TENANT_KEY = PatternDetector(
    name="tenant-key",
    entity="TENANT_KEY",
    pattern=(
        r"(?i:\b(?:tenant[_-]?id|tenant|tid|tenant[_-]?key|directory[_-]?id))[\"']?[ \t]{0,3}"
        rf"[=:][ \t]{{0,3}}[\"']?\{{?({_GUID})"
    ),
    prefilter=r"(?i:(?:tenant|tid|directory)[_-]?(?:id|key)?[\"']?[ \t]{0,3}[=:])",
    explanation="TENANT_KEY via pattern (tenant id assignment holding a GUID)",
    group=1,
)
