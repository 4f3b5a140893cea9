"""ORG_DOMAIN and TENANT_KEY."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.detectors.organization import ORG_DOMAIN, TENANT_KEY

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contoso.com", "contoso.com"),
        ("Microsoft.com", "Microsoft.com"),
        ("contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
        ("see https://fabrikam.co.uk/x", "fabrikam.co.uk"),
        ("CONTOSO.COM", "CONTOSO.COM"),
    ],
)
def test_domain_found(text: str, expected: str) -> None:
    assert [m.value for m in ORG_DOMAIN.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    ["10.0.2.15", "16.0.4483.1000", "8.3", "app.exe", "crash.dmp", "setup.py", "readme.md",
     "System.IO.FileNotFoundException", "System.IO", "iPhoneSkype", "e.g", "-bad-.com",
     "libfoo.so", "amos@contoso.com", "amos.marble%40contoso.com"],
)
def test_domain_not_found(text: str) -> None:
    assert ORG_DOMAIN.find(text) == []


@pytest.mark.parametrize(
    "text",
    [f"tenantId={TENANT}", f'{{"tid": "{TENANT}"}}', f"tenant_id: {{{TENANT}}}",
     f"TenantId = {TENANT.upper()}"],
)
def test_tenant_key_found(text: str) -> None:
    assert [m.value.lower() for m in TENANT_KEY.find(text)] == [TENANT]


@pytest.mark.parametrize("text", [TENANT, f"DeviceID={TENANT}", "tenant=contoso.com"])
def test_tenant_key_not_found(text: str) -> None:
    """A tenant GUID is just a GUID unless it is named as a tenant."""
    assert TENANT_KEY.find(text) == []


@pytest.mark.parametrize("crafted", ["a." * 50_000, "a-" * 50_000, "a" * 100_000 + ".",
                                     "tid=" * 25_000])
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (ORG_DOMAIN, TENANT_KEY):
        assert_fast(det.find, crafted)
