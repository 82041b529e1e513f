"""The heatmap's words in each language we ship (English is the source; a test checks that German and French
have every entry with the same placeholders). Skill labels come from the shared taxonomy labels."""

from __future__ import annotations

from trellis_common.skill_labels import primary_language

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title_named": "Skills heatmap: {cluster}",
        "title": "Skills heatmap of the cluster",
        "subtitle": "Mean gap (level gap + 0.5 × headcount gap) per skill and {heading}; {shown} of {total} "
        "{plural}, largest gaps first",
        "axis.member": "member",
        "axis.member.plural": "members",
        "axis.region": "region",
        "axis.region.plural": "regions",
        "axis.size_class": "size class",
        "axis.size_class.plural": "size classes",
        "axis.sector": "sector",
        "axis.sector.plural": "sectors",
        "axis.country": "country",
        "axis.country.plural": "countries",
        "unnamed_member": "member organisation {number}",
        "imbalance": "imbalance",
        "imbalance.shortage": "shortage",
        "imbalance.gap": "gap",
        "imbalance.surplus": "surplus",
        "imbalance.obsolescence": "obsolescence",
        "imbalance.balanced": "balanced",
        "no_columns": "no member answers yet",
        "legend_gap": "gap",
        "no_answer": "no answer",
        "tip_empty": "{skill} · {column}: no answer",
        "tip": "{skill} · {column}: mean gap {value} over {answers} answer(s)",
        "describe": "{subtitle}. Rows: {rows} skills; columns: {columns} {plural}. Darker cells mean larger gaps; "
        "grey (hatched) cells mean no answer.",
        "largest": " Largest gaps: {items}.",
        "largest_item": "{skill} at {column} ({value})",
        "kinds": " Skills by type of imbalance: {items}.",
        "decimal_mark": ".",
    },
    "de": {
        "title_named": "Kompetenz-Heatmap: {cluster}",
        "title": "Kompetenz-Heatmap des Clusters",
        "subtitle": "Mittlere Lücke (Niveaulücke + 0,5 × Personallücke) je Kompetenz und {heading}; {shown} der "
        "{total} {plural}, größte Lücken zuerst",
        "axis.member": "Mitglied",
        "axis.member.plural": "Mitglieder",
        "axis.region": "Region",
        "axis.region.plural": "Regionen",
        "axis.size_class": "Größenklasse",
        "axis.size_class.plural": "Größenklassen",
        "axis.sector": "Branche",
        "axis.sector.plural": "Branchen",
        "axis.country": "Land",
        "axis.country.plural": "Länder",
        "unnamed_member": "Mitgliedsorganisation {number}",
        "imbalance": "Ungleichgewicht",
        "imbalance.shortage": "Mangel",
        "imbalance.gap": "Lücke",
        "imbalance.surplus": "Überschuss",
        "imbalance.obsolescence": "Veralterung",
        "imbalance.balanced": "ausgeglichen",
        "no_columns": "noch keine Antworten von Mitgliedern",
        "legend_gap": "Lücke",
        "no_answer": "keine Antwort",
        "tip_empty": "{skill} · {column}: keine Antwort",
        "tip": "{skill} · {column}: mittlere Lücke {value} aus {answers} Antwort(en)",
        "describe": "{subtitle}. Zeilen: {rows} Kompetenzen; Spalten: {columns} {plural}. Dunklere Zellen "
        "bedeuten größere Lücken; graue (schraffierte) Zellen bedeuten keine Antwort.",
        "largest": " Größte Lücken: {items}.",
        "largest_item": "{skill} bei {column} ({value})",
        "kinds": " Kompetenzen nach Art des Ungleichgewichts: {items}.",
        "decimal_mark": ",",
    },
    "fr": {
        "title_named": "Carte thermique des compétences : {cluster}",
        "title": "Carte thermique des compétences du cluster",
        "subtitle": "Écart moyen (écart de niveau + 0,5 × écart d’effectif) par compétence et par {heading} ; "
        "{shown} sur {total} {plural}, les plus grands écarts d’abord",
        "axis.member": "membre",
        "axis.member.plural": "membres",
        "axis.region": "région",
        "axis.region.plural": "régions",
        "axis.size_class": "classe de taille",
        "axis.size_class.plural": "classes de taille",
        "axis.sector": "secteur",
        "axis.sector.plural": "secteurs",
        "axis.country": "pays",
        "axis.country.plural": "pays",
        "unnamed_member": "organisation membre {number}",
        "imbalance": "déséquilibre",
        "imbalance.shortage": "pénurie",
        "imbalance.gap": "écart",
        "imbalance.surplus": "excédent",
        "imbalance.obsolescence": "obsolescence",
        "imbalance.balanced": "équilibré",
        "no_columns": "aucune réponse de membre pour l’instant",
        "legend_gap": "écart",
        "no_answer": "pas de réponse",
        "tip_empty": "{skill} · {column} : pas de réponse",
        "tip": "{skill} · {column} : écart moyen {value} sur {answers} réponse(s)",
        "describe": "{subtitle}. Lignes : {rows} compétences ; colonnes : {columns} {plural}. Les cellules plus "
        "foncées signalent de plus grands écarts ; les cellules grises (hachurées), l’absence de réponse.",
        "largest": " Plus grands écarts : {items}.",
        "largest_item": "{skill} chez {column} ({value})",
        "kinds": " Compétences par type de déséquilibre : {items}.",
        "decimal_mark": ",",
    },
}


def heatmap_language(tag: str | None) -> str:
    """``de``, ``de-AT`` … mean German; a language we have no words for gets English."""
    language = primary_language(tag)
    return language if language in WORDS else "en"
