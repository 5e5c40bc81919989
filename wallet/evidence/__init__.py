"""Evidence that a meal happened (issue 16): serving windows, attendance, identification strength,
plausibility rules, findings and their rulings, held payments and parents' disputes."""
