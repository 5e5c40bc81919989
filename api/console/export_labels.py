"""Sheet and column names of XLSX exports in the reader's language (kk, ru, en), for people who open the file
in a spreadsheet (the API by Accept-Language, the console by its language, the CLI by --lang; Russian by
default). CSV and JSON keep the stable English keys that programs read. Texts as elsewhere: (en, ru, kk)
per key; a reason code or meal type reuses the console's word for it (api/console/texts.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from api import i18n
from api.console import texts

# key: (en, ru, kk). Sheet names are kept to 25 characters (a long table continues on "NAME (2)").
_L: dict[str, tuple[str, str, str]] = {
    # sheets
    "meta": ("About this file", "О файле", "Файл туралы"),
    "totals": ("Totals", "Итоги", "Қорытынды"),
    "lines": ("Lines", "Строки сверки", "Салыстыру жолдары"),
    "adjustments": ("Adjustments", "Корректировки", "Түзетулер"),
    "days": ("Days", "Дни", "Күндер"),
    "sequenceGaps": ("Sequence gaps", "Пропуски нумерации", "Нөмірлеу олқылықтары"),
    "children": ("Children", "Дети", "Балалар"),
    "claims": ("Claims", "Заявки", "Өтінімдер"),
    "claimTotals": ("Claim totals", "Итоги заявок", "Өтінім қорытындысы"),
    "claimDifferences": ("Claim differences", "Расхождения с заявками", "Өтінім айырмашылықтары"),
    "checkpoints": ("Checkpoints", "Контрольные точки", "Бақылау нүктелері"),
    "entries": ("Entries", "Записи", "Жазбалар"),
    "classes": ("Classes", "Классы", "Сыныптар"),
    "pupils": ("Pupils", "Ученики", "Оқушылар"),
    "suppliers": ("Suppliers", "Поставщики", "Жеткізушілер"),
    "contracts": ("Contracts", "Договоры", "Шарттар"),
    # the meta sheet: its two columns and its items
    "key": ("Item", "Параметр", "Параметр"),
    "value": ("Value", "Значение", "Мәні"),
    "format": ("File format", "Формат файла", "Файл пішімі"),
    "scope": ("Scope", "Охват", "Қамту"),
    "month": ("Month", "Месяц", "Ай"),
    "closed": ("Month closed", "Месяц закрыт", "Ай жабылды"),
    "closedAt": ("Closed at", "Закрыт", "Жабылды"),
    "generatedAt": ("Made at", "Сформирован", "Жасалды"),
    "checkpointsDigest": ("Checkpoints digest", "Дайджест контрольных точек", "Бақылау нүктелерінің дайджесі"),
    "schools": ("Schools", "Школы", "Мектептер"),
    "school": ("School BIN", "БИН школы", "Мектеп БСН"),
    "class": ("Class", "Класс", "Сынып"),
    "amounts": ("Amounts", "Суммы", "Сомалар"),
    "cells": ("Cells", "Ячейки", "Ұяшықтар"),
    "due": ("Due", "К оплате", "Төленуге тиіс"),
    # columns
    "actor": ("By", "Кем", "Кім"),
    "heldMeals": ("Meals held (open findings)", "Приёмы на удержании (открытые замечания)",
                  "Ұсталған тамақ (ашық ескертулер)"),
    "heldTiyn": ("Held, ₸", "Удержано, ₸", "Ұсталды, ₸"),
    "withheldMeals": ("Meals withheld (upheld findings)", "Приёмы не к оплате (подтверждённые замечания)",
                      "Төленбейтін тамақ (расталған ескертулер)"),
    "withheldTiyn": ("Withheld, ₸", "Не к оплате, ₸", "Төленбейді, ₸"),
    "paidTiyn": ("To pay, ₸", "К выплате, ₸", "Төленеді, ₸"),
    "cosignatures": ("Cosignatures", "Подписи свидетелей", "Куәгерлердің қолтаңбалары"),
    "witness": ("Witness", "Свидетель", "Куәгер"),
    "line": ("Signature line", "Строка подписи", "Қолтаңба жолы"),
    "timestamp": ("Signed at (Unix time)", "Время подписи (Unix)", "Қол қойылған уақыт (Unix)"),
    "adjustmentAmountTiyn": ("Adjustments, ₸", "Корректировки, ₸", "Түзетулер, ₸"),
    "adjustmentMeals": ("Adjusted meals", "Скорректировано приёмов", "Түзетілген тамақ"),
    "adjustmentVoids": ("Adjusted voids", "Скорректировано аннулирований", "Түзетілген жоюлар"),
    "amountDifferenceTiyn": ("Amount difference, ₸", "Разница в сумме, ₸", "Сома айырмасы, ₸"),
    "amountTiyn": ("Amount, ₸", "Сумма, ₸", "Сома, ₸"),
    "anomaly": ("Anomaly", "Аномалия", "Ауытқу"),
    "attempts": ("Attempts", "Попытки", "Әрекеттер"),
    "billingMonth": ("Billing month", "Месяц оплаты", "Төлем айы"),
    "category": ("Category", "Категория", "Санат"),
    "ceiling": ("Ceiling", "Предел", "Шек"),
    "ceilingRatio": ("Share of ceiling", "Доля от предела", "Шектен үлесі"),
    "chainHash": ("Chain hash", "Хеш цепочки", "Тізбек хеші"),
    "checkpointId": ("Checkpoint", "Контрольная точка", "Бақылау нүктесі"),
    "claimId": ("Claim", "Заявка", "Өтінім"),
    "claimedAmountTiyn": ("Claimed, ₸", "Заявлено, ₸", "Мәлімделді, ₸"),
    "claimedMeals": ("Claimed meals", "Заявлено приёмов", "Мәлімделген тамақ"),
    "className": ("Class", "Класс", "Сынып"),
    "contractId": ("Contract id", "Id договора", "Шарт id"),
    "contractNumber": ("Contract", "Договор", "Шарт"),
    "day": ("Day", "День", "Күн"),
    "dayKind": ("Kind of day", "Тип дня", "Күн түрі"),
    "deviceSeq": ("Device sequence", "Номер на терминале", "Терминалдағы нөмір"),
    "dueTiyn": ("Due, ₸", "К оплате, ₸", "Төленуге тиіс, ₸"),
    "entryId": ("Entry", "Запись", "Жазба"),
    "eventId": ("Event id", "Id события", "Оқиға id"),
    "firstMissing": ("First missing", "Первый пропущенный", "Бірінші жоқ"),
    "firstName": ("First name", "Имя", "Аты"),
    "frozen": ("Frozen", "Зафиксировано", "Бекітілген"),
    "iin": ("IIN", "ИИН", "ЖСН"),
    "issuedAt": ("Issued at", "Выпущено", "Берілген уақыты"),
    "keyId": ("Key", "Ключ", "Кілт"),
    "kind": ("Kind", "Вид", "Түрі"),
    "lastMissing": ("Last missing", "Последний пропущенный", "Соңғы жоқ"),
    "lastName": ("Last name", "Фамилия", "Тегі"),
    "late": ("Late", "Поздние", "Кешіккен"),
    "lateBillable": ("Late, billable", "Поздние к оплате", "Кешіккен, төленетін"),
    "leafHash": ("Leaf hash", "Хеш записи", "Жазба хеші"),
    "ledgerAmountTiyn": ("In the ledger, ₸", "В реестре, ₸", "Тізілімде, ₸"),
    "ledgerMeals": ("Meals in the ledger", "Приёмов в реестре", "Тізілімдегі тамақ"),
    "mealAmountTiyn": ("Meals, ₸", "Приёмы, ₸", "Тамақ, ₸"),
    "mealType": ("Meal", "Приём пищи", "Тамақ"),
    "meals": ("Meals", "Приёмы пищи", "Тамақ"),
    "mealsDifference": ("Meals difference", "Разница приёмов", "Тамақ айырмасы"),
    "method": ("Identified by", "Способ идентификации", "Сәйкестендіру тәсілі"),
    "missing": ("Missing", "Пропущено", "Жоқ"),
    "netAmountTiyn": ("Net amount, ₸", "Сумма нетто, ₸", "Таза сома, ₸"),
    "netMeals": ("Net meals", "Приёмов нетто", "Таза тамақ"),
    "note": ("Note", "Примечание", "Ескерту"),
    "payableTiyn": ("Payable, ₸", "К оплате, ₸", "Төленетін, ₸"),
    "position": ("Position", "Позиция", "Орны"),
    "priceTiyn": ("Price, ₸", "Цена, ₸", "Бағасы, ₸"),
    "reasons": ("Reasons", "Причины", "Себептер"),
    "receivedAt": ("Received at", "Получено", "Қабылданды"),
    "refersTo": ("Refers to", "Относится к", "Қатысты"),
    "refused": ("Refused", "Отказы", "Бас тартулар"),
    "rootHash": ("Root hash", "Корневой хеш", "Түбір хеші"),
    "schoolBin": ("School BIN", "БИН школы", "Мектеп БСН"),
    "schoolName": ("School", "Школа", "Мектеп"),
    "servedAt": ("Served at", "Выдано", "Берілді"),
    "servingDay": ("Serving day", "День питания", "Тамақтану күні"),
    "servingMonth": ("Serving month", "Месяц питания", "Тамақтану айы"),
    "signature": ("Signature", "Подпись", "Қолтаңба"),
    "studentId": ("Pupil id", "Id ученика", "Оқушы id"),
    "studentRef": ("Pupil reference", "Ссылка на ученика", "Оқушы сілтемесі"),
    "submittedAt": ("Submitted at", "Подано", "Берілді"),
    "supplierBin": ("Supplier BIN", "БИН поставщика", "Жеткізуші БСН"),
    "supplierName": ("Supplier", "Поставщик", "Жеткізуші"),
    "terminalId": ("Terminal", "Терминал", "Терминал"),
    "treeSize": ("Tree size", "Размер дерева", "Ағаш өлшемі"),
    "validFrom": ("Valid from", "Действует с", "Күшіне енеді"),
    "validTo": ("Valid to", "Действует по", "Дейін жарамды"),
    "verdict": ("Verdict", "Решение", "Шешім"),
    "version": ("Version", "Версия", "Нұсқа"),
    "voidAmountTiyn": ("Voided, ₸", "Аннулировано, ₸", "Жойылды, ₸"),
    "voids": ("Voids", "Аннулирования", "Жоюлар"),
    "refusedBecause": ("Refused: {}", "Отказы: {}", "Бас тартулар: {}"),
}
_INDEX = {"en": 0, "ru": 1, "kk": 2}
_REFUSED = re.compile(r"refused([A-Z]\w*)")
_GRID = re.compile(r"(\d{4}-\d\d-\d\d) (\w+)")


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def labeller(lang: str) -> Callable[[str], str]:
    """Key -> the text people read in `lang`; an unknown key stays as it is (never an empty header)."""
    index = _INDEX.get(lang, _INDEX["ru"])

    def label(key: str) -> str:
        if key in _L:
            return _L[key][index]
        refused = _REFUSED.fullmatch(key)
        if refused:
            return _L["refusedBecause"][index].format(texts.word(_snake(refused.group(1)), lang))
        grid = _GRID.fullmatch(key)
        if grid:  # a meal sheet's day x meal column
            return f"{grid.group(1)} {texts.word(grid.group(2), lang)}"
        return key

    return label


def xlsx_labels() -> Callable[[str], str]:
    """The labels for an API request's XLSX file: in the language Accept-Language picks (Russian by default)."""
    return labeller(i18n.language())


def known_keys() -> set[str]:
    return set(_L)
