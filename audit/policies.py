"""The policy texts Dihya ships with, marked for translation.

The seed migration copies these into `Purpose` rows; the privacy page renders a purpose's
text through gettext, so a shipped text shows in French while an operator's own edited text
shows as written. Changing a text here never changes a stored purpose: publish a new version.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

GENERATION_TITLE = gettext_noop("Text generation for you")
GENERATION_POLICY = gettext_noop(
    "When an application you use asks Dihya to write an answer for you, Dihya sends your "
    "messages to a language model and keeps the question and the answer so that you can see, "
    "download or erase them here. They are not used for anything else, not sold and not used "
    "to train models. Without your consent, no application can generate text for you through "
    "Dihya. You can withdraw your consent at any time: it takes effect at once, and anything "
    "still waiting in the queue for you is cancelled."
)

THIRD_PARTY_TITLE = gettext_noop("Transfer to third-party engines")
THIRD_PARTY_POLICY = gettext_noop(
    "Dihya answers with language models run by this organisation on its own servers. Some "
    "applications may also use models run by other companies (hosted services, possibly in "
    "another country); the list below says which and where. If you agree, your messages may "
    "be sent to them, with names, e-mail addresses, phone numbers, bank and card numbers "
    "replaced by placeholders where the engine is set to mask them. If you do not agree, "
    "your messages are processed only by the organisation's own engines, and an application "
    "whose own engines are unavailable will tell you so rather than send them elsewhere. You "
    "can change your mind at any time: it takes effect at once."
)
