"""DNS name sanity checks shared by the e-mail, SIP and organisation detectors.

Why: `app.exe`, `crash.dmp` and `System.IO` are dotted words, not domains. A
name counts as a domain when its last label is a known top-level domain:
the country codes (taken from `phonenumbers`' region list, so no data file is
needed) plus the common generic TLDs, or an internationalised TLD in its ``xn--``
(punycode) form.
"""

from __future__ import annotations

import phonenumbers


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GENERIC = _words(
    """
    com net org edu gov mil int info biz name pro mobi asia tel travel jobs museum aero coop
    io co ai app dev cloud online site tech store shop blog xyz top club live news email
    email link page space website world today global group company business solutions services
    network systems digital media agency design software host hosting academy center team
    microsoft office live skype azure windows google amazon apple onion local localhost
    arpa eu uk su ac
    """
)

TLDS: frozenset[str] = _GENERIC | frozenset(
    r.lower() for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2
)

#: Two-letter TLDs that are far more often file extensions (readme.md, setup.py).
FILE_LIKE_TLDS = frozenset({"md", "py", "ps", "sh", "pl", "rs", "so", "cc", "am", "in", "at"})

#: File extensions that end dotted names which are file names, not domains.
FILE_EXTENSIONS = _words(
    """
    exe dll sys dmp log txt json xml yaml yml csv tsv ini cfg conf config js ts css html htm
    png jpg jpeg gif bmp svg ico mp3 mp4 wav zip gz tar rar cab msi msix appx pdb etl evtx
    bin dat db sqlite tmp bak old lock pid crash ips plist dylib framework app apk ipa so
    py pyc rb go java class jar cs cpp hpp h c md rst ps1 bat cmd sh vbs
    """
)


def is_domain(name: str, *, allow_file_like: bool = False) -> bool:
    """True when `name` is plausibly a registrable DNS name (labels + known TLD)."""
    if len(name) > 253 or "." not in name:
        return False
    labels = name.split(".")
    if any(not lab or len(lab) > 63 or lab[0] == "-" or lab[-1] == "-" for lab in labels):
        return False
    tld = labels[-1]
    if tld.lower().startswith("xn--") and len(tld) > 4:  # an internationalised TLD
        return tld[4:].replace("-", "").isalnum() and not all(lab.isdigit() for lab in labels[:-1])
    if not tld.isalpha() or tld.lower() not in TLDS:
        return False
    # "System.IO" is a .NET namespace: an upper-case TLD only counts in an all-upper name.
    if not tld.islower() and not (tld.isupper() and name.isupper()):
        return False
    if all(lab.isdigit() for lab in labels[:-1]):
        return False
    if not allow_file_like and len(labels) == 2 and tld.lower() in FILE_LIKE_TLDS:
        return False
    return tld.lower() not in FILE_EXTENSIONS or tld.lower() in _GENERIC
