"""The parent preview: the parent's own children only, every read in the access log, and the feedback form
(server-side validation, CSRF, escaping, and a draft kept across an ended session)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from tests.console.conftest import csrf_of
from wallet.models import ChildAccessLog, ConsoleSession, MealFeedback


def _log_count(session_factory, child_id) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ChildAccessLog)
                              .where(ChildAccessLog.student_id == child_id))


def test_the_preview_shows_children_today_menu_and_history(console, meals, world, session_factory):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("parent")
    before = _log_count(session_factory, world.eligible[0].id)
    page = console.get("/console/parent")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'class="phone"' in html
    assert world.eligible[0].first_name in html and world.eligible[1].last_name not in html
    assert "Плов" in html or "Pilaf" in html
    assert f"rate={entry_id}" in html
    with session_factory() as session:
        actions = set(session.scalars(select(ChildAccessLog.action).where(
            ChildAccessLog.student_id == world.eligible[0].id)))
    assert {"children", "meals_today", "meals", "menu"} <= actions
    assert _log_count(session_factory, world.eligible[0].id) >= before + 4


def test_allergen_warnings_follow_the_childs_allergies(console, world, session_factory):
    from tests.parent_factories import PARENT_IIN
    from wallet.parents.allergies import set_allergies

    with session_factory() as session:
        set_allergies(session, PARENT_IIN, world.eligible[0].id, ["gluten"])
    console.sign_in("parent")
    html = console.get("/console/parent").get_data(as_text=True)
    assert 'class="allergen-hit"' in html and "глютен" in html  # the allergen by its name in the page's language


def test_another_parents_child_is_404(console, world, meals):
    [entry_id] = meals(world.eligible[1])
    console.sign_in("parent")
    for child in (world.eligible[1].id, world.elsewhere.id, "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = console.get(f"/console/parent?child={child}")
        assert response.status_code == 404 and "text/html" in response.content_type
    page = console.get("/console/parent").get_data(as_text=True)
    response = console.client.post("/console/parent/feedback", data={
        "csrf_token": csrf_of(page), "child": str(world.eligible[1].id), "entry": str(entry_id), "rating": "5"})
    assert response.status_code == 404


def test_feedback_is_saved_and_the_comment_comes_out_escaped(console, meals, world, session_factory):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("parent")
    form = console.get(f"/console/parent?rate={entry_id}")
    assert 'id="feedback-form"' in form.get_data(as_text=True)
    response = console.client.post("/console/parent/feedback", data={
        "csrf_token": csrf_of(form.get_data(as_text=True)), "child": str(world.eligible[0].id),
        "entry": str(entry_id), "rating": "4", "tags": ["tasty", "too_cold"],
        "comment": '<script>alert("x")</script> & <b>bold</b>', "return_to": "/console/parent"})
    assert response.status_code == 303
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    with session_factory() as session:
        [row] = session.scalars(select(MealFeedback)).all()
        assert row.rating == 4 and row.tags == "tasty,too_cold" and row.comment.startswith("<script>")
        assert "feedback_write" in set(session.scalars(select(ChildAccessLog.action)))


def test_bad_feedback_is_refused_by_the_server_and_the_form_keeps_it(console, meals, world, session_factory):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("parent")
    csrf = console.csrf("/console/parent")
    base = {"csrf_token": csrf, "child": str(world.eligible[0].id), "entry": str(entry_id)}
    for bad in ({"rating": "9", "comment": "keep me"}, {"rating": ""}, {"rating": "3", "tags": ["poison"]},
                {"rating": "3", "comment": "x" * 501}, {"rating": "3", "comment": "bell\x07"},
                {"rating": "3", "entry": "abc"}, {"rating": "3", "entry": "999999"}):
        response = console.client.post("/console/parent/feedback", data={**base, **bad})
        assert response.status_code == 422, bad
        assert 'class="error"' in response.get_data(as_text=True)
    kept = console.client.post("/console/parent/feedback", data={**base, "rating": "9", "comment": "keep me"})
    assert "keep me</textarea>" in kept.get_data(as_text=True)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MealFeedback)) == 0


def test_feedback_without_csrf_is_refused(console, meals, world, session_factory):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("parent")
    response = console.client.post("/console/parent/feedback", data={
        "child": str(world.eligible[0].id), "entry": str(entry_id), "rating": "5"})
    assert response.status_code == 400
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MealFeedback)) == 0


def test_an_ended_session_keeps_the_feedback_draft(console, meals, world, session_factory):
    [entry_id] = meals(world.eligible[0])
    console.sign_in("parent")
    page = console.get(f"/console/parent?rate={entry_id}").get_data(as_text=True)
    with session_factory() as session:  # the sign-in ends on the server
        session.execute(update(ConsoleSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        session.commit()
    response = console.client.post("/console/parent/feedback", data={
        "csrf_token": csrf_of(page), "child": str(world.eligible[0].id), "entry": str(entry_id), "rating": "2",
        "tags": "too_salty", "comment": "Суп холодный",
        "return_to": f"/console/parent?child={world.eligible[0].id}&rate={entry_id}"})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/console/sign-in") and "reason=expired" in location
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    assert "draft_comment" in next_url
    signed = console.client.post("/console/sign-in", data={
        "csrf_token": console.csrf(location), "token": console.token("parent"), "next": next_url})
    assert signed.headers["Location"] == next_url
    form = console.get(next_url).get_data(as_text=True)
    assert "Суп холодный</textarea>" in form and 'value="2" required checked' in form
    assert 'value="too_salty" checked' in form
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MealFeedback)) == 0


def test_staff_and_parents_keep_to_their_own_pages(console, world):
    console.sign_in("operator")
    assert console.get("/console/parent").status_code == 403
    console.sign_in("parent")
    for path in ("/console/ledger", "/console/reconciliation", f"/console/schools/{world.school.bin}"):
        assert console.get(path).status_code == 403, path


def test_a_child_without_consent_shows_the_offer_note_only(console, meals, world, session_factory):
    """The API's consent rule: an offer not yet accepted hides the child's meals and menu in the preview too."""
    from wallet.models import Voucher
    from wallet.vouchers.offers import offer_vouchers
    from wallet.vouchers.years import school_year_of

    [entry_id] = meals(world.eligible[0])
    with session_factory() as session:
        offer_vouchers(session, school_year_of(world.today), world.today)
        session.commit()
        assert session.scalar(select(func.count()).select_from(Voucher).where(
            Voucher.student_id == world.eligible[0].id)) == 1
    console.sign_in("parent")
    page = console.get(f"/console/parent?child={world.eligible[0].id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="consent-needed"' in html
    assert world.eligible[0].first_name in html
    assert f"rate={entry_id}" not in html and "Плов" not in html and "Pilaf" not in html
    with session_factory() as session:
        actions = set(session.scalars(select(ChildAccessLog.action).where(
            ChildAccessLog.student_id == world.eligible[0].id)))
    assert actions == {"children"}
    response = console.client.post("/console/parent/feedback", data={
        "csrf_token": csrf_of(html), "child": str(world.eligible[0].id), "entry": str(entry_id), "rating": "5"})
    assert response.status_code == 403
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MealFeedback)) == 0


def test_a_meal_whose_receipt_verifies_is_marked_verified(app, console, meals, world, session_factory, settings,
                                                          tmp_path):
    import dataclasses

    from tests.witness_inprocess import InProcessWitnesses
    from wallet.db import transaction
    from wallet.keys import load_signing_key
    from wallet.ledger.checkpoints import make_checkpoints
    from wallet.witnessing.collect import collect
    from wallet.witnessing.national import extend_national_log, log_vkey

    key = load_signing_key(settings)
    witnesses = InProcessWitnesses(tmp_path / "w", "meals.test/ledger", log_vkey("meals.test/ledger", key))
    app.config["WALLET_SETTINGS"] = dataclasses.replace(settings, witness_policy=witnesses.policy)
    meals(world.eligible[0])
    console.sign_in("parent")
    assert 'class="pill ok receipt"' not in console.get("/console/parent").text  # not witnessed yet
    make_checkpoints(session_factory, key)
    with transaction(session_factory) as session:
        extend_national_log(session, key, "meals.test/ledger")
    assert collect(session_factory, witnesses.policy, post=witnesses.post).witnessed
    meals(world.eligible[0], meal_type="breakfast")  # recorded after the witnessed head: not yet verified
    html = console.get("/console/parent").text
    assert html.count('class="pill ok receipt"') == 1
