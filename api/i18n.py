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
    # Parents and feedback
    "invalid_token": {"en": "Invalid token", "ru": "Недействительный токен", "kk": "Жарамсыз токен"},
    "token_expired": {"en": "Token expired", "ru": "Срок действия токена истёк", "kk": "Токеннің мерзімі өтті"},
    "child_not_found": {"en": "Child not found", "ru": "Ребёнок не найден", "kk": "Бала табылмады"},
    "meal_not_found": {"en": "Meal not found", "ru": "Приём пищи не найден", "kk": "Тамақтану табылмады"},
    "feedback_not_found": {"en": "Feedback not found", "ru": "Отзыв не найден", "kk": "Пікір табылмады"},
    "school_not_found": {"en": "School not found", "ru": "Школа не найдена", "kk": "Мектеп табылмады"},
    "invalid_cursor": {"en": "Invalid cursor", "ru": "Недействительный курсор", "kk": "Жарамсыз курсор"},
    "range_too_long": {"en": "Date range too long", "ru": "Слишком длинный период",
                       "kk": "Кезең тым ұзақ"},
    "meal_not_served": {"en": "Meal not served", "ru": "Питание не было выдано", "kk": "Тамақ берілмеген"},
    "meal_voided": {"en": "Meal voided", "ru": "Приём пищи аннулирован", "kk": "Тамақтану жойылған"},
    "feedback_locked": {"en": "Feedback can no longer be changed", "ru": "Отзыв больше нельзя изменить",
                        "kk": "Пікірді енді өзгерту мүмкін емес"},
    "feedback_window_closed": {"en": "Too late for feedback", "ru": "Срок для отзыва истёк",
                               "kk": "Пікір қалдыру мерзімі өтті"},
    "feedback_conflict": {"en": "Feedback changed meanwhile", "ru": "Отзыв был изменён одновременно",
                          "kk": "Пікір бір мезгілде өзгертілді"},
    "no_active_voucher": {"en": "No active free-meal voucher", "ru": "Нет действующего талона на бесплатное питание",
                          "kk": "Тегін тамаққа белсенді талон жоқ"},
    "idp_unavailable": {"en": "Identity provider unavailable", "ru": "Провайдер идентификации недоступен",
                        "kk": "Сәйкестендіру провайдері қолжетімсіз"},
    # Vouchers and eligibility lists
    "voucher_not_found": {"en": "Voucher not found", "ru": "Ваучер не найден", "kk": "Ваучер табылмады"},
    "consent_required": {"en": "Consent required", "ru": "Требуется согласие", "kk": "Келісім қажет"},
    "consent_text_outdated": {"en": "Consent text has changed", "ru": "Текст согласия изменился",
                              "kk": "Келісім мәтіні өзгерді"},
    "voucher_already_accepted": {"en": "Offer already accepted", "ru": "Предложение уже принято",
                                 "kk": "Ұсыныс қабылданған"},
    "voucher_declined": {"en": "Offer declined", "ru": "Предложение отклонено", "kk": "Ұсыныстан бас тартылған"},
    "voucher_withdrawn": {"en": "Consent withdrawn", "ru": "Согласие отозвано", "kk": "Келісім кері қайтарылған"},
    "voucher_not_accepted": {"en": "Offer not accepted", "ru": "Предложение не принято", "kk": "Ұсыныс қабылданбаған"},
    "voucher_expired": {"en": "Voucher expired", "ru": "Срок ваучера истёк", "kk": "Ваучер мерзімі өтті"},
    "offer_expired": {"en": "Offer expired", "ru": "Срок предложения истёк", "kk": "Ұсыныс мерзімі өтті"},
    "voucher_transition_not_allowed": {"en": "Voucher cannot change so", "ru": "Недопустимое изменение ваучера",
                                       "kk": "Ваучерді бұлай өзгертуге болмайды"},
    "eligibility_list_invalid": {"en": "Eligibility list refused", "ru": "Список отклонён",
                                 "kk": "Тізім қабылданбады"},
    "eligibility_list_not_found": {"en": "Eligibility list not found", "ru": "Список не найден",
                                   "kk": "Тізім табылмады"},
}


def language() -> str:
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT_LANGUAGE


def title(code: str) -> str:
    titles = TITLES.get(code)
    if titles is None:
        return code.replace("_", " ").capitalize()
    return titles.get(language(), titles["en"])
