"""Names for the codes the services keep: countries and languages from CLDR (Babel), economic sectors by
their NACE Rev. 2 section, in the page's language. A page shows these, never the bare code."""

from __future__ import annotations

from functools import cache

from babel import Locale

# NACE Rev. 2 section titles (Eurostat), worded as in the internationalisation survey's sector question.
NACE_SECTIONS: dict[str, dict[str, str]] = {
    "en": {
        "A": "Agriculture, forestry and fishing",
        "B": "Mining and quarrying",
        "C": "Manufacturing",
        "D": "Electricity, gas, steam and air conditioning supply",
        "E": "Water supply; sewerage, waste management and remediation",
        "F": "Construction",
        "G": "Wholesale and retail trade; repair of motor vehicles",
        "H": "Transportation and storage",
        "I": "Accommodation and food services",
        "J": "Information and communication",
        "K": "Financial and insurance activities",
        "L": "Real estate activities",
        "M": "Professional, scientific and technical activities",
        "N": "Administrative and support services",
        "O": "Public administration and defence",
        "P": "Education",
        "Q": "Human health and social work",
        "R": "Arts, entertainment and recreation",
        "S": "Other service activities",
    },
    "de": {
        "A": "Land- und Forstwirtschaft, Fischerei",
        "B": "Bergbau und Gewinnung von Steinen und Erden",
        "C": "Verarbeitendes Gewerbe",
        "D": "Energieversorgung",
        "E": "Wasserversorgung; Abwasser- und Abfallentsorgung, Beseitigung von Umweltverschmutzungen",
        "F": "Baugewerbe",
        "G": "Handel; Instandhaltung und Reparatur von Kraftfahrzeugen",
        "H": "Verkehr und Lagerei",
        "I": "Gastgewerbe",
        "J": "Information und Kommunikation",
        "K": "Finanz- und Versicherungsdienstleistungen",
        "L": "Grundstücks- und Wohnungswesen",
        "M": "Freiberufliche, wissenschaftliche und technische Dienstleistungen",
        "N": "Sonstige wirtschaftliche Dienstleistungen",
        "O": "Öffentliche Verwaltung und Verteidigung",
        "P": "Erziehung und Unterricht",
        "Q": "Gesundheits- und Sozialwesen",
        "R": "Kunst, Unterhaltung und Erholung",
        "S": "Sonstige Dienstleistungen",
    },
    "fr": {
        "A": "Agriculture, sylviculture et pêche",
        "B": "Industries extractives",
        "C": "Industrie manufacturière",
        "D": "Production et distribution d’électricité, de gaz, de vapeur et d’air conditionné",
        "E": "Production et distribution d’eau ; assainissement, gestion des déchets et dépollution",
        "F": "Construction",
        "G": "Commerce ; réparation d’automobiles et de motocycles",
        "H": "Transports et entreposage",
        "I": "Hébergement et restauration",
        "J": "Information et communication",
        "K": "Activités financières et d’assurance",
        "L": "Activités immobilières",
        "M": "Activités spécialisées, scientifiques et techniques",
        "N": "Activités de services administratifs et de soutien",
        "O": "Administration publique et défense",
        "P": "Enseignement",
        "Q": "Santé humaine et action sociale",
        "R": "Arts, spectacles et activités récréatives",
        "S": "Autres activités de services",
    },
}
# The divisions (two digits) each section spans, for codes written without the section letter ("25.11").
_DIVISIONS = (
    ("A", 1, 3), ("B", 5, 9), ("C", 10, 33), ("D", 35, 35), ("E", 36, 39), ("F", 41, 43), ("G", 45, 47),
    ("H", 49, 53), ("I", 55, 56), ("J", 58, 63), ("K", 64, 66), ("L", 68, 68), ("M", 69, 75), ("N", 77, 82),
    ("O", 84, 84), ("P", 85, 85), ("Q", 86, 88), ("R", 90, 93), ("S", 94, 96),
)  # fmt: skip


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def country_name(code: str | None, language: str) -> str:
    if not code:
        return ""
    return str(_locale(language).territories.get(code.upper(), code))


def language_name(code: str | None, language: str) -> str:
    if not code:
        return ""
    return str(_locale(language).languages.get(code.lower(), code))


def countries(language: str) -> list[tuple[str, str]]:
    """Every ISO 3166 country by name in the page's language, for a select (regions and groupings left out)."""
    names = _locale(language).territories
    return sorted(((code, str(name)) for code, name in names.items() if len(code) == 2 and code.isalpha()),
                  key=lambda item: item[1].casefold())  # fmt: skip


def section_of(code: str | None) -> str | None:
    """The NACE section letter of a code such as ``C``, ``C25``, ``C25.1`` or ``25.11``."""
    if not code:
        return None
    head = code.strip().upper()
    if head[:1] in NACE_SECTIONS["en"]:
        return head[:1]
    digits = "".join(ch for ch in head[:2] if ch.isdigit())
    if len(digits) == 2:
        division = int(digits)
        return next((letter for letter, low, high in _DIVISIONS if low <= division <= high), None)
    return None


def sector_name(code: str | None, language: str) -> str:
    """``Manufacturing (C25)``: the section's name first, the code after it for those who know it."""
    if not code:
        return ""
    section = section_of(code)
    if section is None:
        return code
    name = NACE_SECTIONS.get(language, NACE_SECTIONS["en"])[section]
    return name if code.strip().upper() == section else f"{name} ({code.strip()})"
