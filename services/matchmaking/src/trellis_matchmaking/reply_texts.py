"""The words of the accept/decline page in each language we ship (English is the source; a test checks that
German and French have every string, with the same placeholders)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "unnamed_cluster": "Your cluster",
        "offer_label": "The offer",
        "by": "by {partner}",
        "for_skill": "For: {skill}",
        "for_member": "Proposed to {member}",
        "ask_accepted": "Would you like to take up this offer?",
        "ask_declined": "Do you want to decline this offer?",
        "effect_accepted": "Accepting confirms your seat. Your cluster manager sees your answer and arranges the "
        "next steps with {partner}.",
        "effect_declined": "Declining frees your seat for another member, and this offer will not be proposed to "
        "you again for this skill.",
        "button_accepted": "Yes, accept",
        "button_declined": "No, decline",
        "accepted_heading": "You accepted this offer",
        "accepted_on": "Accepted on {date}.",
        "accepted_next": "Your seat is confirmed. Your cluster manager sees your answer and arranges the next steps "
        "with {partner}.",
        "withdraw": "If your plans change, you can still decline, so that another member can have the seat.",
        "withdraw_button": "Decline after all",
        "declined_heading": "You declined this offer",
        "declined_on": "Declined on {date}.",
        "declined_next": "Your seat is free for another member. If another offer fits your needs, you will hear "
        "from us by email.",
        "completed_heading": "You took part in this offer",
        "completed_next": "Thank you. Your cluster manager has recorded your participation.",
        "released_heading": "This proposal is no longer open",
        "released_next": "The offer changed or a newer proposal replaced this one. Please use the links in your "
        "most recent email from us, or contact your cluster manager.",
        "refused": "This answer can no longer be recorded here. If you would like to change it, please contact "
        "your cluster manager.",
        "invalid_heading": "This link does not work",
        "invalid_next": "It is incomplete, was changed, or is more than {days} days old. Please use the links in "
        "your most recent email from us, or contact your cluster manager.",
        "footer": "You reached this page through a link in an email from {cluster} about partners for your "
        "skill needs.",
        "footer_unknown": "You reached this page through a link in an email about partners for your skill needs.",
    },
    "de": {
        "unnamed_cluster": "Ihr Cluster",
        "offer_label": "Das Angebot",
        "by": "von {partner}",
        "for_skill": "Kompetenz: {skill}",
        "for_member": "Vorgeschlagen für {member}",
        "ask_accepted": "Möchten Sie dieses Angebot annehmen?",
        "ask_declined": "Möchten Sie dieses Angebot ablehnen?",
        "effect_accepted": "Mit der Zusage ist Ihr Platz bestätigt. Ihr Clustermanagement sieht Ihre Antwort und "
        "vereinbart die nächsten Schritte mit {partner}.",
        "effect_declined": "Mit der Absage wird Ihr Platz für ein anderes Mitglied frei, und dieses Angebot wird "
        "Ihnen für diese Kompetenz nicht erneut vorgeschlagen.",
        "button_accepted": "Ja, annehmen",
        "button_declined": "Nein, ablehnen",
        "accepted_heading": "Sie haben dieses Angebot angenommen",
        "accepted_on": "Angenommen am {date}.",
        "accepted_next": "Ihr Platz ist bestätigt. Ihr Clustermanagement sieht Ihre Antwort und vereinbart die "
        "nächsten Schritte mit {partner}.",
        "withdraw": "Falls sich Ihre Pläne ändern, können Sie noch absagen, damit ein anderes Mitglied den Platz "
        "bekommt.",
        "withdraw_button": "Doch absagen",
        "declined_heading": "Sie haben dieses Angebot abgelehnt",
        "declined_on": "Abgelehnt am {date}.",
        "declined_next": "Ihr Platz ist für ein anderes Mitglied frei. Passt ein anderes Angebot zu Ihrem Bedarf, "
        "erhalten Sie von uns eine E-Mail.",
        "completed_heading": "Sie haben an diesem Angebot teilgenommen",
        "completed_next": "Vielen Dank. Ihr Clustermanagement hat Ihre Teilnahme erfasst.",
        "released_heading": "Dieser Vorschlag ist nicht mehr offen",
        "released_next": "Das Angebot hat sich geändert oder ein neuerer Vorschlag hat diesen ersetzt. Bitte "
        "verwenden Sie die Links in unserer neuesten E-Mail oder wenden Sie sich an Ihr Clustermanagement.",
        "refused": "Diese Antwort kann hier nicht mehr erfasst werden. Wenn Sie sie ändern möchten, wenden Sie sich "
        "bitte an Ihr Clustermanagement.",
        "invalid_heading": "Dieser Link funktioniert nicht",
        "invalid_next": "Er ist unvollständig, wurde verändert oder ist älter als {days} Tage. Bitte verwenden Sie "
        "die Links in unserer neuesten E-Mail oder wenden Sie sich an Ihr Clustermanagement.",
        "footer": "Sie haben diese Seite über einen Link in einer E-Mail von {cluster} zu Partnern für Ihren "
        "Kompetenzbedarf erreicht.",
        "footer_unknown": "Sie haben diese Seite über einen Link in einer E-Mail zu Partnern für Ihren Kompetenzbedarf "
        "erreicht.",
    },
    "fr": {
        "unnamed_cluster": "Votre cluster",
        "offer_label": "L’offre",
        "by": "par {partner}",
        "for_skill": "Compétence : {skill}",
        "for_member": "Proposée à {member}",
        "ask_accepted": "Souhaitez-vous accepter cette offre ?",
        "ask_declined": "Souhaitez-vous refuser cette offre ?",
        "effect_accepted": "En acceptant, votre place est confirmée. La direction de votre cluster voit votre "
        "réponse et organise les prochaines étapes avec {partner}.",
        "effect_declined": "En refusant, votre place est libérée pour un autre membre, et cette offre ne vous sera "
        "plus proposée pour cette compétence.",
        "button_accepted": "Oui, accepter",
        "button_declined": "Non, refuser",
        "accepted_heading": "Vous avez accepté cette offre",
        "accepted_on": "Acceptée le {date}.",
        "accepted_next": "Votre place est confirmée. La direction de votre cluster voit votre réponse et organise "
        "les prochaines étapes avec {partner}.",
        "withdraw": "Si vos projets changent, vous pouvez encore refuser, afin qu’un autre membre puisse avoir la "
        "place.",
        "withdraw_button": "Refuser finalement",
        "declined_heading": "Vous avez refusé cette offre",
        "declined_on": "Refusée le {date}.",
        "declined_next": "Votre place est libre pour un autre membre. Si une autre offre correspond à vos besoins, "
        "vous recevrez un e-mail de notre part.",
        "completed_heading": "Vous avez participé à cette offre",
        "completed_next": "Merci. La direction de votre cluster a enregistré votre participation.",
        "released_heading": "Cette proposition n’est plus ouverte",
        "released_next": "L’offre a changé ou une proposition plus récente a remplacé celle-ci. Veuillez utiliser "
        "les liens de notre e-mail le plus récent ou contacter la direction de votre cluster.",
        "refused": "Cette réponse ne peut plus être enregistrée ici. Si vous souhaitez la modifier, veuillez "
        "contacter la direction de votre cluster.",
        "invalid_heading": "Ce lien ne fonctionne pas",
        "invalid_next": "Il est incomplet, a été modifié ou date de plus de {days} jours. Veuillez utiliser les liens "
        "de notre e-mail le plus récent ou contacter la direction de votre cluster.",
        "footer": "Vous avez atteint cette page par un lien dans un e-mail de {cluster} sur des partenaires pour "
        "vos besoins en compétences.",
        "footer_unknown": "Vous avez atteint cette page par un lien dans un e-mail sur des partenaires pour vos "
        "besoins en compétences.",
    },
}
