"""Language choice from Accept-Language (kk, ru, en; Russian by default) and translated problem titles."""

from __future__ import annotations

from flask import request

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "ru"

# Titles of problem codes; the `code` stays stable and English, the title follows the reader's language.
TITLES: dict[str, dict[str, str]] = {
    "bad_request": {"en": "Bad request", "ru": "Некорректный запрос", "kk": "Қате сұраным"},
    "validation_failed": {"en": "Validation failed", "ru": "Ошибка проверки данных",
                          "kk": "Деректер тексеруден өтпеді"},
    "malformed_json": {"en": "Malformed JSON", "ru": "Некорректный JSON", "kk": "JSON қате"},
    "unsupported_media_type": {"en": "Unsupported media type", "ru": "Неподдерживаемый тип содержимого",
                               "kk": "Қолдау көрсетілмейтін мазмұн түрі"},
    "unauthorized": {"en": "Authentication required", "ru": "Требуется аутентификация", "kk": "Аутентификация қажет"},
    "forbidden": {"en": "Forbidden", "ru": "Доступ запрещён", "kk": "Қол жеткізуге тыйым салынған"},
    "not_found": {"en": "Not found", "ru": "Не найдено", "kk": "Табылмады"},
    "method_not_allowed": {"en": "Method not allowed", "ru": "Метод не разрешён", "kk": "Әдіске рұқсат жоқ"},
    "conflict": {"en": "Conflict", "ru": "Конфликт", "kk": "Қайшылық"},
    "payload_too_large": {"en": "Payload too large", "ru": "Слишком большой запрос", "kk": "Сұраным тым үлкен"},
    "not_acceptable": {"en": "Not acceptable", "ru": "Неприемлемый формат", "kk": "Қолайсыз формат"},
    "not_ready": {"en": "Service not ready", "ru": "Сервис не готов", "kk": "Қызмет дайын емес"},
    "database_unavailable": {"en": "Database unavailable", "ru": "База данных недоступна",
                             "kk": "Дерекқор қолжетімсіз"},
    "internal_error": {"en": "Internal error", "ru": "Внутренняя ошибка", "kk": "Ішкі қате"},
}


def language() -> str:
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT_LANGUAGE


def title(code: str) -> str:
    titles = TITLES.get(code)
    if titles is None:
        return code.replace("_", " ").capitalize()
    return titles.get(language(), titles["en"])
