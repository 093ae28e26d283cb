"""The pre-loan credit report: facts in, a deterministic report out (docs/reports.md).

`facts` are the subject's on-chain records as plain values, `policy` the thresholds and grading rules, `fold` the
pure function from facts to the report, and `models` the report as every gateway returns it.
"""

from creditshare.domain.report.facts import CorrectionFact, DisputeFact, EventFact, InquiryFact, SubjectFacts
from creditshare.domain.report.fold import fold
from creditshare.domain.report.loans import month_char
from creditshare.domain.report.models import AsOf, CreditReport, Evidence, LoanEntry, Reason, Summary
from creditshare.domain.report.policy import Policy, Rule

__all__ = [
    "AsOf",
    "CorrectionFact",
    "CreditReport",
    "DisputeFact",
    "EventFact",
    "Evidence",
    "InquiryFact",
    "LoanEntry",
    "Policy",
    "Reason",
    "Rule",
    "SubjectFacts",
    "Summary",
    "fold",
    "month_char",
]
