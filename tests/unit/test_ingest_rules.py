import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from wallet.ingest import rules

TOLERANCE = dt.timedelta(minutes=15)


def facts(**overrides):
    base = dict(student_known=True, enrolled=True, category="primary_grades", day_kind="serving",
                already_served=False, period_closed=False, clock_offset=dt.timedelta(0),
                served_after_sent=dt.timedelta(seconds=-30), price_tiyn=85000)
    base.update(overrides)
    return rules.Facts(**base)


def test_a_good_meal_is_billable_at_the_contract_price():
    verdict = rules.decide(facts(), clock_tolerance=TOLERANCE)
    assert verdict.billable and verdict.reasons == () and verdict.price_tiyn == 85000


def test_every_failing_rule_adds_its_reason():
    verdict = rules.decide(
        facts(enrolled=False, category=None, day_kind="holiday", already_served=True, period_closed=True,
              clock_offset=dt.timedelta(hours=1)),
        clock_tolerance=TOLERANCE,
    )
    assert not verdict.billable and verdict.price_tiyn == 0
    assert set(verdict.reasons) == {
        rules.NOT_ENROLLED, rules.NOT_ELIGIBLE, rules.NOT_SERVING_DAY, rules.DUPLICATE_MEAL,
        rules.PERIOD_CLOSED, rules.CLOCK_OUT_OF_BOUNDS,
    }


def test_unknown_student_hides_student_rules():
    verdict = rules.decide(facts(student_known=False, enrolled=False, category=None), clock_tolerance=TOLERANCE)
    assert verdict.reasons == (rules.UNKNOWN_STUDENT,)


def test_missing_price_is_its_own_reason():
    verdict = rules.decide(facts(price_tiyn=None), clock_tolerance=TOLERANCE)
    assert verdict.reasons == (rules.NO_CONTRACT_PRICE,)


def test_a_meal_stamped_after_its_own_upload_is_a_clock_fault():
    late = facts(served_after_sent=rules.FUTURE_SLACK + dt.timedelta(seconds=1))
    assert rules.decide(late, clock_tolerance=TOLERANCE).reasons == (rules.CLOCK_OUT_OF_BOUNDS,)
    assert rules.decide(facts(served_after_sent=rules.FUTURE_SLACK), clock_tolerance=TOLERANCE).billable


@given(
    st.booleans(), st.booleans(), st.sampled_from([None, "primary_grades"]),
    st.sampled_from([None, "serving", "holiday", "closure"]), st.booleans(), st.booleans(),
    st.integers(-7200, 7200), st.sampled_from([None, 1, 85000]),
)
def test_billable_exactly_when_no_reason_and_refused_costs_nothing(known, enrolled, category, day, served, closed,
                                                                   offset, price):
    verdict = rules.decide(
        facts(student_known=known, enrolled=enrolled, category=category, day_kind=day, already_served=served,
              period_closed=closed, clock_offset=dt.timedelta(seconds=offset), price_tiyn=price),
        clock_tolerance=TOLERANCE,
    )
    assert verdict.billable == (verdict.reasons == ())
    assert verdict.price_tiyn == (price if verdict.billable else 0)
    assert set(verdict.reasons) <= set(rules.REASON_CODES)
