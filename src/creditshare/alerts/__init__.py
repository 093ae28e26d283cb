"""Post-loan early warning (贷后预警): alerts raised from the index for the subjects this lender watches, read
from a cursor feed and delivered to webhooks signed per the Standard Webhooks specification."""
