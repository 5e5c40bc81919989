"""Eligibility categories: the order in which a pupil who qualifies on several grounds is billed."""

# When a pupil qualifies on several grounds, the meal is billed under the first that applies.
CATEGORY_PRIORITY = ("primary_grades", "orphan", "social_assistance", "low_income", "large_family")
