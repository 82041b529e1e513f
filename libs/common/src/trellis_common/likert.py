"""The five-point agreement scale of likert questions, in each language we ship: the member's form shows it and
the console words the results with it (the answers are stored as 1 to 5)."""

from __future__ import annotations

LIKERT_POINTS = 5
# English is the source; 1 is the first label.
LIKERT_SCALE: dict[str, tuple[str, ...]] = {
    "en": ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"),
    "de": (
        "Stimme überhaupt nicht zu",
        "Stimme eher nicht zu",
        "Weder noch",
        "Stimme eher zu",
        "Stimme voll und ganz zu",
    ),
    "fr": (
        "Pas du tout d’accord",
        "Plutôt pas d’accord",
        "Ni d’accord ni pas d’accord",
        "Plutôt d’accord",
        "Tout à fait d’accord",
    ),
}


def likert_label(value: str, language: str) -> str | None:
    """The words of an answer "1" to "5" in ``language`` (English when not shipped); none for anything else."""
    scale = LIKERT_SCALE.get(language, LIKERT_SCALE["en"])
    if not value.isdigit() or not 1 <= int(value) <= len(scale):
        return None
    return scale[int(value) - 1]
