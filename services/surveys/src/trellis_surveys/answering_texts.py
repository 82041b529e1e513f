"""What the answering pages say, in each language a member may read them (English, German, French).

Every language has the same keys; ``ANSWER_MESSAGES`` words the answer checks of ``domain.answers`` in the
languages other than English, with the same placeholders.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from trellis_common.dates import long_date

UI: dict[str, dict[str, str]] = {
    "en": {
        "problems": "There is a problem",
        "required_note": "Questions marked * must be answered. You can save and come back to this page later "
        "through the same link.",
        "submit": "Submit answers",
        "save": "Save and continue later",
        "saved": "Your answers are saved. Come back through the same link to continue.",
        "thanks_title": "Thank you",
        "thanks": "Your answers are recorded. You can change them through the same link until {close}.",
        "next_steps": "What happens next: your cluster analyses the answers of all its members. If collaboration "
        "partners can help with your needs, you will receive their proposals by email; if none fits yet, your "
        "cluster manager sees your needs and can follow up.",
        "resubmitted": "You already submitted this survey. Submitting again replaces your answers.",
        "current_level": "Level of your staff today",
        "required_level": "Level you need",
        "headcount_having": "Staff who have it today",
        "headcount_needed": "Staff you need at that level, in total",
        "importance": "Importance (1 low – 5 critical)",
        "only_if": "Answer only if you answered “{answer}” to “{question}”.",
        "only_if_min": "Answer only if you answered {answer} or more to “{question}”.",
        "forged_title": "This link does not work",
        "forged": "The link is incomplete or was changed. Open it again from your invitation email, or ask your "
        "cluster manager for a new invitation.",
        "expired_title": "This survey has closed",
        "expired": "The link has expired because the survey closed. Thank you for your interest; your cluster "
        "manager can tell you about the next survey.",
        "session_title": "Please try again",
        "session": "The form could not be accepted because it did not come from this survey page. Open the link "
        "from your invitation again and resubmit.",
        "bad_number": "must be a whole number",
        "skill_incomplete": "fill in all five fields for this skill, or leave them all empty",
    },
    "de": {
        "problems": "Es gibt ein Problem",
        "required_note": "Fragen mit * müssen beantwortet werden. Sie können speichern und später über denselben "
        "Link weitermachen.",
        "submit": "Antworten absenden",
        "save": "Speichern und später fortfahren",
        "saved": "Ihre Antworten sind gespeichert. Über denselben Link können Sie später weitermachen.",
        "thanks_title": "Vielen Dank",
        "thanks": "Ihre Antworten sind erfasst. Bis {close} können Sie sie über denselben Link ändern.",
        "next_steps": "Wie es weitergeht: Ihr Cluster wertet die Antworten aller Mitglieder aus. Wenn "
        "Kooperationspartner bei Ihrem Bedarf helfen können, erhalten Sie deren Vorschläge per E-Mail; passt noch "
        "keiner, sieht Ihr Clustermanagement Ihren Bedarf und kann auf Sie zukommen.",
        "resubmitted": "Sie haben diese Umfrage bereits abgeschickt. Erneutes Absenden ersetzt Ihre Antworten.",
        "current_level": "Heutiges Niveau Ihrer Beschäftigten",
        "required_level": "Benötigtes Niveau",
        "headcount_having": "Beschäftigte, die es heute haben",
        "headcount_needed": "Benötigte Beschäftigte auf diesem Niveau, insgesamt",
        "importance": "Bedeutung (1 gering – 5 entscheidend)",
        "only_if": "Nur beantworten, wenn Sie bei „{question}“ „{answer}“ gewählt haben.",
        "only_if_min": "Nur beantworten, wenn Sie bei „{question}“ {answer} oder mehr gewählt haben.",
        "forged_title": "Dieser Link funktioniert nicht",
        "forged": "Der Link ist unvollständig oder wurde verändert. Öffnen Sie ihn erneut aus Ihrer Einladung oder "
        "bitten Sie Ihr Clustermanagement um eine neue Einladung.",
        "expired_title": "Diese Umfrage ist geschlossen",
        "expired": "Der Link ist abgelaufen, weil die Umfrage geschlossen wurde.",
        "session_title": "Bitte erneut versuchen",
        "session": "Das Formular kam nicht von dieser Umfrageseite. Öffnen Sie den Link aus Ihrer Einladung erneut.",
        "bad_number": "muss eine ganze Zahl sein",
        "skill_incomplete": "füllen Sie alle fünf Felder für diese Kompetenz aus oder lassen Sie alle leer",
    },
    "fr": {
        "problems": "Un problème est survenu",
        "required_note": "Les questions marquées d’un * sont obligatoires. Vous pouvez enregistrer et revenir plus "
        "tard sur cette page grâce au même lien.",
        "submit": "Envoyer les réponses",
        "save": "Enregistrer et continuer plus tard",
        "saved": "Vos réponses sont enregistrées. Revenez par le même lien pour continuer.",
        "thanks_title": "Merci",
        "thanks": "Vos réponses sont enregistrées. Vous pouvez les modifier grâce au même lien jusqu’au {close}.",
        "next_steps": "La suite : votre cluster analyse les réponses de tous ses membres. Si des partenaires "
        "peuvent répondre à vos besoins, vous recevrez leurs propositions par e-mail ; si aucun ne convient encore, "
        "la direction de votre cluster voit vos besoins et pourra revenir vers vous.",
        "resubmitted": "Vous avez déjà répondu à cette enquête. Un nouvel envoi remplacera vos réponses.",
        "current_level": "Niveau actuel de votre personnel",
        "required_level": "Niveau dont vous avez besoin",
        "headcount_having": "Personnel qui la possède aujourd’hui",
        "headcount_needed": "Personnel nécessaire à ce niveau, au total",
        "importance": "Importance (1 faible – 5 essentielle)",
        "only_if": "À remplir uniquement si vous avez répondu « {answer} » à « {question} ».",
        "only_if_min": "À remplir uniquement si vous avez répondu {answer} ou plus à « {question} ».",
        "forged_title": "Ce lien ne fonctionne pas",
        "forged": "Le lien est incomplet ou a été modifié. Ouvrez-le à nouveau depuis votre e-mail d’invitation, ou "
        "demandez une nouvelle invitation à la direction de votre cluster.",
        "expired_title": "Cette enquête est close",
        "expired": "Le lien a expiré car l’enquête est close. Merci de votre intérêt ; la direction de votre cluster "
        "pourra vous informer de la prochaine enquête.",
        "session_title": "Veuillez réessayer",
        "session": "Le formulaire n’a pas pu être accepté, car il ne provenait pas de cette page d’enquête. Ouvrez à "
        "nouveau le lien de votre invitation et renvoyez vos réponses.",
        "bad_number": "doit être un nombre entier",
        "skill_incomplete": "remplissez les cinq champs pour cette compétence, ou laissez-les tous vides",
    },
}


# The validation messages of ``domain.answers.ANSWER_MESSAGES`` in the other languages a member may read the form
# in (same keys, same placeholders; English comes from there).
ANSWER_MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        "likert": "muss eine ganze Zahl von 1 (stimme gar nicht zu) bis 5 (stimme voll zu) sein",
        "rating": "muss eine ganze Zahl von {low} bis {high} sein",
        "one_of": "muss eine dieser Optionen sein: {allowed}",
        "option_list": "muss eine Liste von Optionen sein",
        "unknown_options": "unbekannte Option(en) {unknown}; erlaubt: {allowed}",
        "chosen_twice": "jede Option darf nur einmal gewählt werden",
        "too_few_choices": "wählen Sie mindestens {count}",
        "too_many_choices": "wählen Sie höchstens {count}",
        "number": "muss eine Zahl sein",
        "whole_number": "muss eine ganze Zahl sein",
        "too_small": "muss mindestens {limit} sein",
        "too_large": "darf höchstens {limit} sein",
        "text": "muss ein Text sein",
        "too_long": "darf höchstens {count} Zeichen lang sein",
        "required": "„{question}“ muss beantwortet werden",
        "matrix_required": "„{question}“ braucht mindestens eine Kompetenz",
        "skill_field_required": "muss ausgefüllt werden",
        "out_of_range": "muss zwischen {low} und {high} liegen, nicht {value}",
    },
    "fr": {
        "likert": "doit être un nombre entier de 1 (pas du tout d’accord) à 5 (tout à fait d’accord)",
        "rating": "doit être un nombre entier de {low} à {high}",
        "one_of": "doit être l’une de ces options : {allowed}",
        "option_list": "doit être une liste d’options",
        "unknown_options": "option(s) inconnue(s) {unknown} ; autorisées : {allowed}",
        "chosen_twice": "chaque option ne peut être choisie qu’une fois",
        "too_few_choices": "choisissez-en au moins {count}",
        "too_many_choices": "choisissez-en au plus {count}",
        "number": "doit être un nombre",
        "whole_number": "doit être un nombre entier",
        "too_small": "doit être au moins {limit}",
        "too_large": "doit être au plus {limit}",
        "text": "doit être un texte",
        "too_long": "ne doit pas dépasser {count} caractères",
        "required": "« {question} » doit être renseigné",
        "matrix_required": "« {question} » demande au moins une compétence",
        "skill_field_required": "doit être renseigné",
        "out_of_range": "doit être compris entre {low} et {high}, pas {value}",
    },
}


def local_time(moment: datetime, timezone: str, language: str) -> str:
    """A moment as a member reads it: the cluster's local time, the month in words, the zone's abbreviation."""
    local = moment.astimezone(ZoneInfo(timezone))
    day, clock, zone = long_date(local.date(), language), local.strftime("%H:%M"), local.strftime("%Z")
    if language == "de":
        return f"{day}, {clock} Uhr {zone}"
    if language == "fr":
        return f"{day} à {clock} {zone}"
    return f"{day}, {clock} {zone}"


def ui_for(language: str) -> dict[str, str]:
    return UI.get(language, UI["en"])
