"""Disputes with deadlines (征信业管理条例 art. 25): opening one on any member's record for a borrower, listing
them by role and state, and resolving this lender's."""
