"""What parents see and do: their children, meals today and over time, menus with allergen warnings,
feedback on served meals, notifications from the outbox, and the access log of every read of a child's data.

Plain functions taking a Session. Reads never commit; the access log, feedback and allergies commit.
"""
