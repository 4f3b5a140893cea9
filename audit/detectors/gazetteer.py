"""First names and surnames for PERSON_NAME: a gazetteer taken from Faker's person data.

Why Faker: it is MIT-licensed, kept up to date, and carries first names and surnames
of some eighty locales (the US lists come from the Census and SSA tables), so no name
list lives in this repository. Only names written in the Latin alphabet with a capital
initial are kept, and words that are far more often something else in telemetry (a
product, a month, a common English word, a place) are dropped: a pair such as
``Will Call`` or ``Surface Pro`` must not read as a person.

The lists are built once, on first use (about 0.4 s): a scan that searches no
PERSON_NAME never pays for them. Without Faker installed both are empty and only the
context rules of :mod:`audit.detectors.names` speak.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache

_NAME = re.compile(r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]{1,24}")

#: Products and brands that are also someone's name somewhere: never a person here, not
#: even after a title ("Ms Teams").
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PRODUCTS = _words(
    """
    Apple Windows Office Teams Surface Galaxy Pixel Edge Chrome Word Excel Outlook Skype
    Android Linux Mac Dell Lenovo Acer Asus Sony Intel Nova Echo Alexa Siri Cortana Tesla
    Mercedes Porsche Jaguar Mini Fiat Kia Dodge Lexus Ram Jeep Opel Seat Smart Polo Golf
    Lync Exchange Azure Xbox Bing Yammer Planner Viva Loop Copilot Paint Store Photos
    """
)

#: Names that are, in telemetry and product text, mostly other words.
COMMON_WORDS = _words(
    """
    Will May Mark Bill Grant Chase Hunter Long Young King Green Brown Black White Gray Grey
    Page Price Rich Guy Don Ray Jack Nick Rob Pat Sue Art Hope Faith Joy Sunny Rose Summer
    Autumn Winter Spring Star Max Media Video Data Call Error Crystal Ruby Jade Iris Pearl
    Amber Ivy Holly Dawn Eve Drew Gene Lane Dale Glen Wood Stone Field Hill Bell Cook Baker
    Love Rice Case Post Start Little Short Hall Ford Lincoln Washington Jordan Georgia
    Victoria Austin Dallas Houston Paris London Berlin Sydney Phoenix Orlando Florence
    Chelsea Brooklyn Madison Aurora Sierra Nevada Carolina Virginia Dakota Santa San Los
    Las New North South East West Saint Fort Port Lake Mount Park Street Road Avenue
    General Major Private Prime Sharp Swift Bright Strong Wise Noble Royal Just Frank
    Norman Baron Duke Earl Prince Bishop Pope Abbott Dean Marshall Sheriff Judge Mayor
    Power Powers Banks Bank Cash Money Gold Silver Steel Iron Cross Christian Angel Angels
    Holiday Easter Christmas Sunday Monday Tuesday Wednesday Thursday Friday Saturday
    January February March April June July August September October November December
    Sign Signed Join Joined Meeting Media Audio Client Server Service User Guest Admin
    Test Demo Default System Update Install Version Build Release Beta Alpha Debug Trace
    Info Warning Failed Success Status State Mode Type Code Value Key Name Event Session
    Device Phone Mobile Desktop Web App Network Proxy Cache Queue Worker Agent Host Home
    Work Team Group Channel Chat Message Contact Calendar Note Notes Task Tasks File Files
    Share Link Post Reply Read Write Open Close Save Load Sync Send Receive Add Remove
    Delete Edit View Show Hide New Old Next Last First Main Top Bottom Left Right Center
    Les Van Von Der Den Del Della Di De Da Du Le La El Al Ben Bin Mac Mc Dos Das Ter
    """
) | PRODUCTS


#: Languages whose Faker names are in another script: their modules are not even read.
_OTHER_SCRIPTS = _words("ar bg bn el fa gu he hi hy ja ka ko mk mr ne or ru si ta th uk zh")


def _latin(names: object) -> set[str]:
    if not isinstance(names, (list, tuple, dict, set, frozenset)):
        return set()
    return {n for n in names if isinstance(n, str) and _NAME.fullmatch(n)}


@lru_cache(maxsize=1)
def names() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames) of every Faker locale, Latin script, common words removed."""
    try:
        import faker.providers.person as person
    except ImportError:  # the context rules still work without it
        return frozenset(), frozenset()
    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        if module.name.split("_")[0] in _OTHER_SCRIPTS:
            continue
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female",
                     "first_names_nonbinary"):
            first |= _latin(getattr(provider, attr, None))
        last |= _latin(getattr(provider, "last_names", None))
    return frozenset(first - COMMON_WORDS), frozenset(last - COMMON_WORDS)
