"""Problem documents speak the reader's language (Accept-Language: kk, ru, en; Russian by default): the title,
the detail and each field's message come from the gettext catalogs; the code stays English."""

from __future__ import annotations

import pytest

URL = "/api/v1/auditor/ledger/verifications"


@pytest.mark.parametrize(("lang", "title", "detail"), [
    ("kk", "Аутентификация қажет", "Қол жеткізу токені (Bearer) қажет."),
    ("ru", "Требуется аутентификация", "Нужен токен доступа (Bearer)."),
    ("en", "Authentication required", "A bearer token is required."),
    (None, "Требуется аутентификация", "Нужен токен доступа (Bearer)."),
])
def test_title_and_detail_follow_accept_language(client, lang, title, detail):
    headers = {"Accept-Language": lang} if lang else {}
    response = client.get(URL, headers=headers)
    body = response.get_json()
    assert response.status_code == 401 and body["code"] == "unauthorized"
    assert (body["title"], body["detail"]) == (title, detail)
