"""The console's words in Kazakh, Russian and English. The language is the one picked in the console (kept in
the session), else the browser's Accept-Language (api/i18n.py's choice, Russian by default)."""

from __future__ import annotations

from flask import session

from api import i18n
from wallet import words

LANGUAGES = i18n.LANGUAGES
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

# key: (en, ru, kk)
_T: dict[str, tuple[str, str, str]] = {
    "app": ("Meal ledger console", "Консоль учёта питания", "Тамақтану есебінің консолі"),
    "skip": ("Skip to content", "Перейти к содержимому", "Мазмұнға өту"),
    "language": ("Language", "Язык", "Тіл"),
    "apply": ("Apply", "Применить", "Қолдану"),
    "sign_in": ("Sign in", "Войти", "Кіру"),
    "sign_out": ("Sign out", "Выйти", "Шығу"),
    "signed_in_as": ("Signed in as", "Вы вошли как", "Сіз кірдіңіз:"),
    "token": ("Identity-provider token", "Токен провайдера идентификации", "Сәйкестендіру провайдерінің токені"),
    "token_help": ("Paste the token your identity provider issued (the same one the mobile app and the API use).",
                   "Вставьте токен, выданный провайдером идентификации (тот же, что у приложения и API).",
                   "Сәйкестендіру провайдері берген токенді қойыңыз (қосымша мен API қолданатын токен)."),
    "dev_sign_in": ("Development sign-in", "Вход для разработки", "Әзірлеуге арналған кіру"),
    "dev_help": ("Only in development: a token from the local identity provider for a role or a demo parent.",
                 "Только в разработке: токен локального провайдера для роли или демо-родителя.",
                 "Тек әзірлеуде: рөлге немесе демо-ата-анаға жергілікті провайдердің токені."),
    "role": ("Role", "Роль", "Рөл"),
    "region": ("Region", "Регион", "Өңір"),
    "school": ("School", "Школа", "Мектеп"),
    "schools": ("Schools", "Школы", "Мектептер"),
    "supplier": ("Supplier", "Поставщик", "Жеткізуші"),
    "parent": ("Parent", "Родитель", "Ата-ана"),
    "demo_parent": ("Demo parent", "Демо-родитель", "Демо ата-ана"),
    "none": ("—", "—", "—"),
    "session_expired": ("Your session has ended. Sign in again; what you typed is kept.",
                        "Сеанс завершён. Войдите снова; введённое сохранено.",
                        "Сеанс аяқталды. Қайта кіріңіз; енгізгеніңіз сақталды."),
    "signed_out": ("You have signed out.", "Вы вышли.", "Сіз шықтыңыз."),
    "token_refused": ("The token was refused", "Токен отклонён", "Токен қабылданбады"),
    "role_refused": ("This token's role cannot use the console.", "Роль этого токена не может работать в консоли.",
                     "Бұл токеннің рөлі консольді пайдалана алмайды."),
    "required": ("Required.", "Обязательное поле.", "Міндетті өріс."),
    "home": ("Home", "Главная", "Басты бет"),
    "school_view": ("School", "Школа", "Мектеп"),
    "audit": ("Reconciliation", "Сверка", "Салыстыру"),
    "ledger": ("Ledger", "Реестр", "Тізілім"),
    "parent_preview": ("Parent preview", "Просмотр родителя", "Ата-ана көрінісі"),
    "today": ("Today", "Сегодня", "Бүгін"),
    "live": ("Today's service, live", "Питание сегодня, в реальном времени", "Бүгінгі тамақтану, тікелей"),
    "updated": ("Updated", "Обновлено", "Жаңартылды"),
    "meal_type": ("Meal", "Приём пищи", "Тамақ"),
    "served": ("Served", "Выдано", "Берілді"),
    "entitled": ("Entitled children", "Имеют право", "Құқығы бар балалар"),
    "refused": ("Refused attempts", "Отказы", "Бас тартулар"),
    "reason": ("Reason", "Причина", "Себеп"),
    "count": ("Count", "Количество", "Саны"),
    "no_refusals": ("No refused attempts.", "Отказов нет.", "Бас тарту жоқ."),
    "terminals": ("Terminals", "Терминалы", "Терминалдар"),
    "terminal": ("Terminal", "Терминал", "Терминал"),
    "status": ("Status", "Статус", "Күйі"),
    "online": ("online", "в сети", "желіде"),
    "offline": ("offline", "не в сети", "желіде емес"),
    "revoked": ("revoked", "отозван", "кері қайтарылған"),
    "last_contact": ("Last contact", "Последний контакт", "Соңғы байланыс"),
    "never": ("never", "никогда", "ешқашан"),
    "seq_gaps": ("Sequence gaps", "Пропуски в нумерации", "Нөмірлеудегі олқылықтар"),
    "allergen_warnings_confirmed": ("Meals served after a confirmed allergen warning",
                                    "Выдано после подтверждённого предупреждения об аллергене",
                                    "Аллерген туралы расталған ескертуден кейін берілген тамақ"),
    "backlog": ("Not yet uploaded", "Не выгружено", "Әлі жүктелмеген"),
    "backlog_flagged": ("overdue", "просрочено", "мерзімі өткен"),
    "oldest_unsent": ("oldest", "старейшее", "ең ескісі"),
    "nothing_unsent": ("nothing", "ничего", "ештеңе"),
    "backlog_unknown": ("not reported", "не сообщалось", "хабарланбаған"),
    "silent_for": ("silent for", "молчит", "үнсіз"),
    "days_short": ("d", "д", "к"),
    "hours_short": ("h", "ч", "сағ"),
    "no_terminals": ("No terminals registered.", "Терминалы не зарегистрированы.", "Терминал тіркелмеген."),
    "calendar": ("Calendar", "Календарь", "Күнтізбе"),
    # The calendar's weekday headers, Monday first (ISO weekday order, as the grid is laid out).
    "weekday_0": ("Mon", "Пн", "Дс"),
    "weekday_1": ("Tue", "Вт", "Сс"),
    "weekday_2": ("Wed", "Ср", "Ср"),
    "weekday_3": ("Thu", "Чт", "Бс"),
    "weekday_4": ("Fri", "Пт", "Жм"),
    "weekday_5": ("Sat", "Сб", "Сб"),
    "weekday_6": ("Sun", "Вс", "Жс"),
    "menu": ("Menu", "Меню", "Мәзір"),
    "no_menu": ("No menu for this day.", "На этот день меню нет.", "Бұл күнге мәзір жоқ."),
    "dish": ("Dish", "Блюдо", "Тағам"),
    "grams": ("g", "г", "г"),
    "kcal": ("kcal", "ккал", "ккал"),
    "allergens": ("Allergens", "Аллергены", "Аллергендер"),
    "allergen_warning": ("Contains an allergen of this child", "Содержит аллерген ребёнка",
                         "Баланың аллергені бар"),
    "day": ("Day", "День", "Күн"),
    "day_kind": ("Day", "Тип дня", "Күн түрі"),
    "month": ("Month", "Месяц", "Ай"),
    "show": ("Show", "Показать", "Көрсету"),
    "scope": ("Scope", "Охват", "Қамту"),
    "whole_scope": ("everything I may see", "всё, что мне доступно", "маған қолжетімдінің бәрі"),
    "totals": ("Totals", "Итоги", "Қорытынды"),
    "meals": ("Meals", "Питание", "Тамақ"),
    "net_meals": ("Net meals", "Питание (нетто)", "Тамақ (нетто)"),
    "amount": ("Amount, ₸", "Сумма, ₸", "Сома, ₸"),
    "payable": ("Payable, ₸", "К оплате, ₸", "Төленетін, ₸"),
    "ceiling": ("Ceiling", "Предел", "Шек"),
    "ratio": ("Ratio to ceiling", "Доля от предела", "Шекке қатынасы"),
    "voids": ("Voids", "Аннулирования", "Жоюлар"),
    "late": ("Late", "Поздние", "Кешіккен"),
    "per_day": ("Meals per day against the ceiling", "Питание по дням относительно предела",
                "Күн сайынғы тамақ шекпен салыстырғанда"),
    "refusals_by_reason": ("Refusals by reason", "Отказы по причинам", "Себептер бойынша бас тартулар"),
    "claims": ("Supplier claims", "Заявки поставщиков", "Жеткізушілердің өтінімдері"),
    "claimed": ("Claimed", "Заявлено", "Мәлімделген"),
    "in_ledger": ("In the ledger", "В реестре", "Тізілімде"),
    "difference": ("Difference", "Разница", "Айырма"),
    "no_claims": ("No supplier claims for this month.", "За этот месяц заявок нет.", "Бұл айға өтінім жоқ."),
    "claim_differences": ("Differences with claims", "Расхождения с заявками", "Өтінімдермен айырмашылықтар"),
    "no_differences": ("No differences.", "Расхождений нет.", "Айырмашылық жоқ."),
    "lines": ("Lines", "Строки", "Жолдар"),
    "category": ("Category", "Категория", "Санат"),
    "export": ("Export", "Экспорт", "Экспорт"),
    "export_reconciliation": ("Reconciliation", "Сверка", "Салыстыру"),
    "export_entries": ("All entries", "Все записи", "Барлық жазбалар"),
    "regions": ("Regions", "Регионы", "Өңірлер"),
    "days": ("Days", "Дни", "Күндер"),
    "entries": ("Entries", "Записи", "Жазбалар"),
    "entry": ("Entry", "Запись", "Жазба"),
    "position": ("Position", "Позиция", "Орны"),
    "kind": ("Kind", "Вид", "Түрі"),
    "verdict": ("Verdict", "Решение", "Шешім"),
    "child": ("Child", "Ребёнок", "Бала"),
    "served_at": ("Served at", "Время выдачи", "Берілген уақыты"),
    "received_at": ("Received at", "Получено", "Алынды"),
    "device_seq": ("Device seq.", "Номер на устройстве", "Құрылғыдағы нөмірі"),
    "proof": ("Proof", "Доказательство", "Дәлел"),
    "verify": ("Verify", "Проверить", "Тексеру"),
    "verify_proof": ("Verify the proof", "Проверить доказательство", "Дәлелді тексеру"),
    "proof_ok": ("Verified: the entry is in the signed ledger.", "Проверено: запись входит в подписанный реестр.",
                 "Тексерілді: жазба қол қойылған тізілімде бар."),
    "proof_redacted": ("Some fields are masked for you, so only the entry's place in the ledger is proven, "
                       "not their values.",
                       "Часть полей скрыта для вас: доказано место записи в реестре, но не значения этих полей.",
                       "Кейбір өрістер сіз үшін жасырылған: жазбаның тізілімдегі орны дәлелденді, бұл өрістердің "
                       "мәндері емес."),
    "proof_bad": ("The proof does not verify.", "Доказательство не прошло проверку.", "Дәлел тексеруден өтпеді."),
    "download_proof": ("Download the proof (JSON)", "Скачать доказательство (JSON)", "Дәлелді жүктеу (JSON)"),
    "checkpoint": ("Checkpoint", "Контрольная точка", "Бақылау нүктесі"),
    "checkpoints": ("Latest signed checkpoints", "Последние подписанные контрольные точки",
                    "Соңғы қол қойылған бақылау нүктелері"),
    "tree_size": ("Tree size", "Размер дерева", "Ағаш өлшемі"),
    "receipt_verified": ("verified", "проверено", "тексерілді"),
    "receipt_verified_help": ("The meal's receipt checks out: it is in the ledger that independent witnesses "
                              "cosigned.", "Квитанция о питании проверена: запись входит в журнал, подписанный "
                              "независимыми свидетелями.", "Тамақ түбіртегі тексерілді: жазба тәуелсіз куәгерлер "
                              "қол қойған журналда бар."),
    "witnesses": ("Independent witnesses", "Независимые свидетели", "Тәуелсіз куәгерлер"),
    "witnessed": ("witnessed", "засвидетельствовано", "куәландырылды"),
    "not_witnessed": ("not witnessed", "не засвидетельствовано", "куәландырылмады"),
    "witnesses_off": ("No witnesses are configured.", "Свидетели не настроены.", "Куәгерлер бапталмаған."),
    "no_national_head": ("The national log has no signed head yet.", "У национального журнала ещё нет подписанной "
                         "вершины.", "Ұлттық журналдың әлі қол қойылған басы жоқ."),
    "national_head": ("National log head", "Вершина национального журнала", "Ұлттық журналдың басы"),
    "cosigned_of": ("cosigned", "подписали", "қол қойды"),
    "quorum": ("quorum", "кворум", "кворум"),
    "witness_last": ("Last answer", "Последний ответ", "Соңғы жауап"),
    "witness_cosigned": ("cosigned", "подписал", "қол қойды"),
    "witness_refused": ("refused", "отказал", "бас тартты"),
    "witness_unreachable": ("unreachable", "недоступен", "қолжетімсіз"),
    "witness_invalid": ("invalid answer", "неверный ответ", "жарамсыз жауап"),
    "witness_unknown": ("never asked", "ещё не спрашивали", "әлі сұралмаған"),
    "root_hash": ("Root hash", "Корневой хеш", "Түбір хеші"),
    "issued_at": ("Signed at", "Подписано", "Қол қойылды"),
    "signature": ("Signature", "Подпись", "Қолтаңба"),
    "valid": ("valid", "верна", "жарамды"),
    "invalid": ("INVALID", "НЕВЕРНА", "ЖАРАМСЫЗ"),
    "head_size": ("Chain size", "Длина цепочки", "Тізбек ұзындығы"),
    "last_verification": ("Last verification", "Последняя проверка", "Соңғы тексеру"),
    "not_verified": ("not verified yet", "ещё не проверялось", "әлі тексерілмеген"),
    "run_ok": ("OK", "OK", "OK"),
    "run_mismatch": ("MISMATCH", "НЕСОВПАДЕНИЕ", "СӘЙКЕССІЗДІК"),
    "run_error": ("ERROR", "СБОЙ", "ҚАТЕЛІК"),
    "via_cli": ("command line", "командная строка", "командалық жол"),
    "via_api": ("API", "API", "API"),
    "via_console": ("console", "консоль", "консоль"),
    "all_schools": ("all schools", "все школы", "барлық мектептер"),
    "problem_elsewhere": ("the first mismatch is in another school", "первое несовпадение в другой школе",
                          "алғашқы сәйкессіздік басқа мектепте"),
    "problem_outside_scope": ("in a school outside your scope", "в школе вне вашей зоны доступа",
                              "сіздің қолжетімділік аймағыңыздан тыс мектепте"),
    "recent_runs": ("Recent verification runs", "Последние проверки", "Соңғы тексерулер"),
    "no_runs": ("No verification runs recorded yet.", "Проверок ещё не было.", "Тексерулер әлі болған жоқ."),
    "run_started": ("Started", "Начало", "Басталуы"),
    "run_by": ("Run by", "Кем запущена", "Кім іске қосты"),
    "run_scope": ("Scope", "Охват", "Қамту"),
    "run_chains": ("Chains", "Цепочки", "Тізбектер"),
    "run_entries": ("Entries", "Записи", "Жазбалар"),
    "run_checkpoints": ("Checkpoints", "Контрольные точки", "Бақылау нүктелері"),
    "run_result": ("Result", "Результат", "Нәтиже"),
    "verify_chain": ("Verify the chain", "Проверить цепочку", "Тізбекті тексеру"),
    "ok": ("OK", "OK", "OK"),
    "failed": ("FAILED", "ОШИБКА", "ҚАТЕ"),
    "no_checkpoint": ("no checkpoint yet", "контрольных точек нет", "бақылау нүктесі жоқ"),
    "children": ("Children", "Дети", "Балалар"),
    "no_children": ("No children are linked to you.", "К вам не привязаны дети.", "Сізге бала тіркелмеген."),
    "consent_needed": ("A free-meal voucher offer awaits your answer: accept it, with consent to processing the "
                       "child's data, to see the child's meals.",
                       "Предложение талона на бесплатное питание ждёт ответа: примите его с согласием на обработку "
                       "данных ребёнка, чтобы видеть питание ребёнка.",
                       "Тегін тамақ талонының ұсынысы жауап күтуде: баланың тамағын көру үшін оны баланың деректерін "
                       "өңдеуге келісіммен қабылдаңыз."),
    "class": ("Class", "Класс", "Сынып"),
    "todays_meals": ("Today's meals", "Питание сегодня", "Бүгінгі тамақ"),
    "history": ("History", "История", "Тарих"),
    "no_history": ("No meals recorded yet.", "Питание ещё не записано.", "Тамақ әлі жазылмаған."),
    "feedback": ("Feedback", "Отзыв", "Пікір"),
    "leave_feedback": ("Rate this meal", "Оценить питание", "Тамақты бағалау"),
    "rating": ("Rating (1-5)", "Оценка (1-5)", "Баға (1-5)"),
    "tags": ("What stood out", "Что запомнилось", "Не есте қалды"),
    "comment": ("Comment", "Комментарий", "Пікір мәтіні"),
    "send": ("Send", "Отправить", "Жіберу"),
    "feedback_saved": ("Thank you: your feedback is saved.", "Спасибо: отзыв сохранён.", "Рақмет: пікір сақталды."),
    "your_feedback": ("Your feedback", "Ваш отзыв", "Сіздің пікіріңіз"),
    "fix_errors": ("Please correct the marked fields.", "Исправьте отмеченные поля.",
                   "Белгіленген өрістерді түзетіңіз."),
    "not_billable": ("not billable", "не оплачивается", "төленбейді"),
    "billable": ("billable", "оплачивается", "төленеді"),
    "voided": ("voided", "аннулировано", "жойылған"),
    "error": ("Something went wrong", "Что-то пошло не так", "Бірдеңе дұрыс болмады"),
    "error_400": ("The request could not be used.", "Запрос не может быть обработан.", "Сұранымды өңдеу мүмкін емес."),
    "error_403": ("You may not open this page.", "Эта страница вам недоступна.", "Бұл бет сізге қолжетімсіз."),
    "error_404": ("Nothing here (or not in your scope).", "Здесь ничего нет (или вне вашего охвата).",
                  "Мұнда ештеңе жоқ (немесе сіздің қамтуыңыздан тыс)."),
    "error_csrf": ("The form had expired or did not come from this console. Please try again.",
                   "Форма устарела или отправлена не из консоли. Попробуйте ещё раз.",
                   "Форма ескірген немесе консольден жіберілмеген. Қайталап көріңіз."),
    "error_500": ("An internal error occurred; it has been logged.", "Внутренняя ошибка; она записана в журнал.",
                  "Ішкі қате; ол журналға жазылды."),
    "error_503": ("The service is unavailable just now; try again shortly.", "Сервис временно недоступен.",
                  "Қызмет уақытша қолжетімсіз."),
    "back_home": ("Back to the console", "Вернуться в консоль", "Консольге оралу"),
    "pick_school": ("Pick a school", "Выберите школу", "Мектепті таңдаңыз"),
    "mobile_preview_note": ("What the parent's mobile app shows, at phone width.",
                            "Так выглядит мобильное приложение родителя.",
                            "Ата-ананың мобильді қосымшасы осылай көрінеді."),
    "access_logged": ("Each view of a child's data is written to the access log.",
                      "Каждый просмотр данных ребёнка записывается в журнал доступа.",
                      "Баланың деректерін әр қарау қолжетімділік журналына жазылады."),
    "meals_total": ("meals served today", "порций выдано сегодня", "бүгін берілген тамақ"),
    "drill_down": ("Open", "Открыть", "Ашу"),
    # meal types, day kinds, statuses
    "breakfast": ("Breakfast", "Завтрак", "Таңғы ас"),
    "lunch": ("Lunch", "Обед", "Түскі ас"),
    "snack": ("Snack", "Полдник", "Бесін ас"),
    "serving": ("serving day", "учебный день", "оқу күні"),
    "holiday": ("holiday", "каникулы", "демалыс"),
    "closure": ("closure", "закрыто", "жабық"),
    "no_day": ("not in the calendar", "нет в календаре", "күнтізбеде жоқ"),
    "not_yet": ("not yet", "ещё нет", "әлі жоқ"),
    "not_serving_day": ("not a serving day", "не учебный день", "оқу күні емес"),
    "not_eligible": ("not eligible", "нет права", "құқығы жоқ"),
    "meal": ("meal", "питание", "тамақ"),
    "void": ("void", "аннулирование", "жою"),
    "adjustment": ("adjustment", "корректировка", "түзету"),
    "operator": ("Operator", "Оператор", "Оператор"),
    "auditor": ("Auditor", "Аудитор", "Аудитор"),
    "school_admin": ("School administrator", "Администратор школы", "Мектеп әкімшісі"),
    # checkpoint reasons (free text from the command line otherwise, shown as it is)
    "reason_periodic": ("periodic", "плановая", "жоспарлы"),
    "reason_proof": ("for a proof", "для доказательства", "дәлел үшін"),
    # feedback tags
    "tasty": ("tasty", "вкусно", "дәмді"),
    "hot_and_fresh": ("hot and fresh", "горячее и свежее", "ыстық әрі жаңа"),
    "generous_portion": ("generous portion", "большая порция", "үлкен порция"),
    "too_cold": ("too cold", "холодное", "суық"),
    "small_portion": ("small portion", "маленькая порция", "кішкентай порция"),
    "too_salty": ("too salty", "пересолено", "тым тұзды"),
    "not_fresh": ("not fresh", "несвежее", "жаңа емес"),
    "undercooked": ("undercooked", "недоварено", "піспеген"),
    "child_did_not_eat": ("my child did not eat", "ребёнок не ел", "бала жемеді"),
    # refusal reasons
    "unknown_student": ("unknown student", "неизвестный ученик", "белгісіз оқушы"),
    "not_enrolled": ("not enrolled here", "не зачислен в школу", "мектепке қабылданбаған"),
    "duplicate_meal": ("second meal of the day", "повторное питание", "қайталанған тамақ"),
    "device_clock_out_of_bounds": ("device clock out of bounds", "часы устройства неверны",
                                   "құрылғы сағаты қате"),
    "period_closed": ("period already closed", "период закрыт", "кезең жабылған"),
    "no_contract_price": ("no contract price", "нет цены в договоре", "шартта баға жоқ"),
    "qr_token_other_school": ("QR code of another school", "QR-код другой школы", "басқа мектептің QR-коды"),
    "qr_token_other_meal_type": ("QR code for another meal", "QR-код на другой приём пищи",
                                 "басқа тамаққа арналған QR-код"),
    "qr_token_expired": ("QR code expired", "срок QR-кода истёк", "QR-кодтың мерзімі өтті"),
    "qr_token_reused": ("QR code used again", "QR-код использован повторно", "QR-код қайта қолданылды"),
    "voucher_not_active": ("voucher not active", "талон не действует", "талон белсенді емес"),
    "qr_token_other_student": ("QR code of another pupil", "QR-код другого ученика", "басқа оқушының QR-коды"),
    "outside_serving_window": ("outside the serving window", "вне времени раздачи", "тарату уақытынан тыс"),
    # findings (issue 16)
    "findings": ("Findings", "Замечания", "Ескертулер"),
    "finding_rule": ("Rule", "Правило", "Ереже"),
    "no_findings": ("No findings for this month.", "Замечаний за месяц нет.", "Бұл айда ескертулер жоқ."),
    "evidence": ("Evidence", "Доказательства", "Дәлелдер"),
    "finding_open": ("open: payment held", "открыто: оплата удержана", "ашық: төлем ұсталды"),
    "finding_upheld": ("upheld: not paid", "подтверждено: не оплачивается", "расталды: төленбейді"),
    "finding_dismissed": ("dismissed: paid", "отклонено: оплачивается", "қабылданбады: төленеді"),
    "ruling": ("Ruling", "Решение", "Шешім"),
    "rule_on": ("Record the ruling", "Записать решение", "Шешімді жазу"),
}
_INDEX = {"en": 0, "ru": 1, "kk": 2}


def language() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else i18n.language()


def t(key: str) -> str:
    words = _T.get(key)
    if words is None:
        return key.replace("_", " ")
    return words[_INDEX[language()]]


# Counted words, by language, in wallet.words' order of plural forms (en: one, other; ru: one, few, many;
# kk: one form, the noun stays singular after a number).
_COUNTED: dict[str, dict[str, tuple[str, ...]]] = {
    "children": {"en": ("child", "children"), "ru": ("ребёнок", "ребёнка", "детей"), "kk": ("бала",)},
    "open_offers": {"en": ("open voucher offer", "open voucher offers"),
                    "ru": ("открытое предложение ваучера", "открытых предложения ваучера",
                           "открытых предложений ваучера"),
                    "kk": ("ашық ваучер ұсынысы",)},
    "active_vouchers": {"en": ("active voucher", "active vouchers"),
                        "ru": ("действующий ваучер", "действующих ваучера", "действующих ваучеров"),
                        "kk": ("белсенді ваучер",)},
}


def counted(n: int, key: str) -> str:
    """`n` and its word in the reader's language: "1 child", "3 ребёнка", "5 бала"."""
    lang = language()
    return words.count(n, _COUNTED[key][lang], lang)


def word(key: str, lang: str) -> str:
    """The console's word for `key` in `lang` (not the session's), e.g. a reason code in an export."""
    words = _T.get(key)
    return key.replace("_", " ") if words is None else words[_INDEX.get(lang, _INDEX["ru"])]


def known(key: str) -> bool:
    return key in _T


def school_name(name_kk: str, name_ru: str) -> str:
    return name_kk if language() == "kk" else name_ru


def dish_name(dish: object) -> str:
    lang = language()
    return str(getattr(dish, f"name_{lang}", None) or getattr(dish, "name_ru", ""))
