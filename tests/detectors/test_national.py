"""IBAN and NATIONAL_ID: positive and negative tables (published sample numbers)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from audit.detectors import detect
from audit.detectors.national import IBAN, NATIONAL_ID


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pay to GB82 WEST 1234 5698 7654 32.", "GB82 WEST 1234 5698 7654 32"),
        ("iban=NL91ABNA0417164300", "NL91ABNA0417164300"),
        ("IBAN NL91 ABNA 0417 1643 00 THEN", "NL91 ABNA 0417 1643 00"),  # next word not taken
        ("iban: GB82-WEST-1234-5698-7654-32.", "GB82-WEST-1234-5698-7654-32"),  # dashed
        ("NL91-ABNA-0417-1643-00", "NL91-ABNA-0417-1643-00"),
    ],
)
def test_iban_found(text: str, expected: str) -> None:
    assert [m.value for m in IBAN.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    ["NL91 ABNA 0417 1643 01",  # wrong check digits
     "5E872200-F546-4CCD-8F23-AF5F507AA2DD", "AB12 CDEF GHIJ", "16.0.4483.1000", "0x80004005",
     "NL91-ABNA-0417-1643-01",  # dashed, wrong check digits
     "GB82-WEST 1234-5698 7654-32",  # spaces and dashes mixed
     "x-NL91-ABNA-0417-1643-00"],  # the tail of a longer dashed id
)
def test_iban_not_found(text: str) -> None:
    assert IBAN.find(text) == []


FOUND = [
    ("ssn 536-90-4399", "536-90-4399", "US SSN"),
    ("dni=54362315K", "54362315K", "ES DNI"),
    ("X2482300W", "X2482300W", "ES NIE"),
    ("cf RCCMNL83S18D969H", "RCCMNL83S18D969H", "IT codice fiscale"),
    ("aadhaar 2345 6789 0124", "2345 6789 0124", "IN Aadhaar"),
    ("2 95 10 99 126 111 93", "2 95 10 99 126 111 93", "FR NIR"),
    ("ssn 536 90 4399", "536 90 4399", "US SSN"),
    ("itin 912-78-1234", "912-78-1234", "US ITIN"),
    ("dni 54362315k", "54362315k", "ES DNI"),
    ("pan BNZPM2501F", "BNZPM2501F", "IN PAN"),
    ("NINO JG 10 37 59 A", "JG 10 37 59 A", "UK NINO"),
    ("nino jg103759a", "jg103759a", "UK NINO"),
    ("NHS 943 476 5919", "943 476 5919", "UK NHS number"),
    ("SIN 271-828-188", "271-828-188", "CA SIN"),
    ("hetu 131052-308T", "131052-308T", "FI HETU"),
    ("pnr 811218-9876", "811218-9876", "SE personnummer"),
    ("S1234567D", "S1234567D", "SG NRIC/FIN"),
    ("CPF 390.533.447-05", "390.533.447-05", "BR CPF"),
    ("AHV 756.1234.5678.97", "756.1234.5678.97", "CH AHV"),
    ("PESEL: 44051401359", "44051401359", "PL PESEL"),
    ("TC Kimlik No 10000000146", "10000000146", "TR T.C. kimlik no"),
    ("Steuer-ID 86095742719", "86095742719", "DE Steuer-ID"),
    ("KVNR K310529873", "K310529873", "DE health insurance number"),
    ("rvnr 12150385M014", "12150385M014", "DE pension insurance number"),
    ("mbi 7KQ2-HN4-PW61", "7KQ2-HN4-PW61", "US Medicare MBI"),
    # bare runs holding a birth date and a check digit
    ("44051401359", "44051401359", "PL PESEL"),
    ("pnr is 199109242397.", "199109242397", "SE personnummer"),
    ("8001015009087", "8001015009087", "ZA ID number"),
    ("id 9601211021413 on file", "9601211021413", "KR RRN"),
    # context words other than a strict label
    ("Turkish ID 10000000146", "10000000146", "TR T.C. kimlik no"),
    ("เลขบัตรประชาชน 2345678901234", "2345678901234", "TH national id"),
    ("3123:4567:8909", "3123:4567:8909", "IN Aadhaar"),
    ("NPI: 1234567893", "1234567893", "US NPI"),
    ("medicare 2123 45670 1", "2123 45670 1", "AU Medicare number"),
    # a DNI written without its leading zero; ITIN groups 50 to 65
    ("dni 7654321J", "7654321J", "ES DNI"),
    ("nif: 7654321-J", "7654321-J", "ES DNI"),
    ("itin 912-55-1234", "912-55-1234", "US ITIN"),
    # a HETU glued to the word before it
    ("hetu is131052-308T.", "131052-308T", "FI HETU"),
    # Korean numbers in their dashed shape, without a check digit (issued since 2020)
    ("rrn 850315-2987654", "850315-2987654", "KR RRN/FRN"),
    ("850315-5987654", "850315-5987654", "KR RRN/FRN"),
    ("FRN 8503155987654", "8503155987654", "KR RRN/FRN"),
    # a refugee's ZA id (citizenship digit 2), bare: birth date and Luhn digit
    ("8802145123288", "8802145123288", "ZA ID number"),
    ("7kq2-hn4-pw61", "7kq2-hn4-pw61", "US Medicare MBI"),
    ("Ausweis T3KM9XR50", "T3KM9XR50", "DE identity card number"),
    ("LZ6311T06", "LZ6311T06", "DE identity card number"),
    ("St.-Nr. 181/815/08155", "181/815/08155", "DE Steuernummer"),
    ("21/815/08150", "21/815/08150", "DE Steuernummer"),
    ("LANR: 345678801", "345678801", "DE LANR"),
    ("Arztnummer 345678801 auf dem Rezept", "345678801", "DE LANR"),
    ("BSNR 381234567", "381234567", "DE BSNR"),
    ("TIN: 135-724-685-000", "135-724-685-000", "PH TIN"),
    ("tax id 403020104", "403020104", "PH TIN"),
    ("voter id: XKQ4471203", "XKQ4471203", "IN voter id (EPIC)"),
    ("use 135-724-685-000 as your id", "135-724-685-000", "PH TIN"),  # with its branch code
    ("TFN 876 543 210", "876 543 210", "AU TFN"),  # in threes, after its label
    ("tax file number: 876-543-210", "876-543-210", "AU TFN"),
]


@pytest.mark.parametrize(("text", "expected", "label"), FOUND)
def test_national_id_found(text: str, expected: str, label: str) -> None:
    (m,) = NATIONAL_ID.find(text)
    assert m.value == expected
    assert label in m.explanation


@pytest.mark.parametrize(("text", "expected", "label"), FOUND)
def test_national_id_found_through_the_vectorised_search(text: str, expected: str,
                                                         label: str) -> None:
    """The prefilter lets every format through: detect() finds what find() finds."""
    out = detect(pd.Series([text]), ["NATIONAL_ID"])
    assert list(out["matched"]) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "-2147467259",  # HRESULT
        "2147942405",
        "1712345678901",  # epoch milliseconds
        "2024-01-15 10:30:00",
        "16.0.4483.1000",
        "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
        "666-12-3456",  # SSN area never issued
        "123-45-6789",  # placeholder
        "54362315A",  # wrong DNI letter
        "234567890124",  # an Aadhaar-valid digit run, but bare: could be any count
        "2345 6789 0125",  # wrong Verhoeff digit
        "IE29 AIBK 9311 5212 3456 79",  # Verhoeff-valid digit groups inside an IBAN
        "86095742719",  # a Steuer-ID-valid bare run without its label: could be any id
        "10000000146",  # TCKN: two check digits but no birth date
        "2345678901234",  # a Thai id's mod-11 check alone
        "1001015009084",  # a ZA-valid run that may be epoch milliseconds (2001)
        "2001015009083",
        "v44051401359", "44051401359.7", "/users/44051401359/", "+44051401359",
        "202311201530",  # yyyymmddhhmm, not a 12-digit personnummer
        "2001:4567:8909::1", "fe80::3123:4567:8909",  # IPv6, not a colon-grouped Aadhaar
        "1234567893", "ssn 1234567893", "provider id 1234567893",  # an NPI only by its name
        "NPI: 1234567890",  # wrong Luhn digit
        "051102-9234110",  # a KR RRN of someone born in 1805
        "2123456701", "2123 45671 1",  # Medicare: bare, or a wrong check digit
        "build 20231201-1530",  # yyyymmdd-hhmm, not a personnummer
        "231201-1530",
        "51 943 476 5919",  # NHS-valid groups inside a longer run of groups
        "ab123456c",  # lower-case, hex prefix: a short hash as likely as a NINO
        "JG 10 37 59 E",  # NINO suffix is A to D
        "BG 12 34 56 A",  # never-issued NINO prefix
        "S1234567A",  # wrong NRIC check letter
        "12345678a",  # a hex check letter
        "K310529874",  # wrong KVNR check digit
        "12150385M015",  # wrong RVNR check digit
        "12153385M014",  # no month 33
        "7KS2-HN4-PW61",  # S is not an MBI letter
        "EN-US", "Surface Pro 9", "10.0.19045.4046", "1712345678901", "2147942405",
        "7654321K",  # wrong DNI letter
        "7654321a",  # a hex letter
        "itin 912-66-1234", "itin 912-89-1234",  # groups never issued
        "ab131052-308U",  # wrong HETU check character
        "851315-2987654",  # no month 13
        "850315-9987654", "850315-0987654",  # born in the 1800s
        "8503155987654",  # a bare run: only with its check digit or a label
        "8802145123388",  # citizenship digit 3
        "7kq2hn4pw61",  # lower case only in dashed groups
        "T3KM9XR51",  # wrong ICAO check digit
        "G12345674",  # a letter and eight digits: any ticket or order id
        "LZ6311T06X", "xLZ6311T06",  # inside a longer token
        "12/345/6789", "/api/181/815/08155", "181/815/08155/", "12/31/2024", "1/12/2024",
        "345678801",  # LANR-valid, but bare
        "LANR 345678901",  # wrong LANR check digit
        "381234567",  # a BSNR needs its label
        "TIN 135-724-686-000", "tax id 403020105",  # wrong TIN check digit
        "135-724-685",  # a TIN needs its label, or its branch code
        "XKQ4471203",  # an EPIC needs its label
        "135-724-686-000",  # wrong TIN check digit
        "135 724 685 000",  # not its dashed groups
        "876 543 210",  # TFN-valid threes: a count with thousands separators as likely
        "TFN 876 543 211",  # wrong TFN check digit
        "TFN 876 543-210",  # separators mixed
        "TFN 1 876 543 210",  # inside a longer run of groups
        "TFN 876543211", "PESEL 536904399",  # a label names the one scheme checked
    ],
)
def test_national_id_not_found(text: str) -> None:
    assert NATIONAL_ID.find(text) == []


def test_explanations_never_hold_the_value() -> None:
    for det, text in ((IBAN, "GB82WEST12345698765432"), (NATIONAL_ID, "536-90-4399")):
        (m,) = det.find(text)
        assert m.value not in m.explanation


@pytest.mark.parametrize(
    "crafted",
    ["GB82 " + "WEST " * 30_000, "GB82" + "1" * 100_000, "1 2" * 30_000, "1234 " * 20_000,
     "A" * 100_000, "123-45-" * 15_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (IBAN, NATIONAL_ID):
        assert_fast(det.find, crafted)
