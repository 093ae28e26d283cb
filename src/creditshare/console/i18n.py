"""The console's words, Simplified Chinese first and English by a switch (the `lang` cookie).

One table, looked up by key: a missing translation is a KeyError in the tests, never an English word on a
Chinese page.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

#: key → (Simplified Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app_name": ("共享征信台账 · 贷前查询", "creditshare · pre-loan console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_credentials": ("用户名或密码错误", "Wrong username or password"),
    "locked": ("密码错误次数过多，账户已锁定至 {until}", "Too many wrong passwords: locked until {until}"),
    "disabled": ("账户已停用，请联系管理员", "This account is disabled; ask an admin"),
    "session_expired": ("会话已过期，请重新登录", "Your session expired; please sign in again"),
    "signed_out": ("已退出登录", "You are signed out"),
    "csrf_failed": (
        "表单已失效（CSRF 校验失败），请刷新页面后重试",
        "The form expired (CSRF check failed); reload and retry",
    ),
    "forbidden": ("您的角色无权访问此页面", "Your role may not open this page"),
    "role_underwriter": ("信审员", "underwriter"),
    "role_auditor": ("审计员", "auditor"),
    "role_admin": ("管理员", "admin"),
    "new_query": ("新建查询", "New query"),
    "audit_log": ("查询日志审计", "Audit log"),
    "query_title": ("个人信用报告查询", "Credit report query"),
    "id_type": ("证件类型", "ID type"),
    "id_number": ("证件号码", "ID number"),
    "purpose": ("查询原因", "Purpose"),
    "consent_ref": ("授权书编号", "Consent reference"),
    "submit_query": ("查询", "Query"),
    "resident_id": ("居民身份证", "Resident ID card"),
    "uscc": ("统一社会信用代码", "Unified social credit code"),
    "other": ("其他证件", "Other ID"),
    "loan_application": ("贷款审批", "Loan application"),
    "post_loan": ("贷后管理", "Post-loan management"),
    "guarantee": ("担保资格审查", "Guarantee review"),
    "dispute_verification": ("异议核查", "Dispute verification"),
    "regulatory": ("监管查询", "Regulatory"),
    "own_report": ("本人查询", "Own report"),
    "check_char_wrong": ("校验位不正确，请核对证件号码", "The check character is wrong; check the number"),
    "id_format_wrong": ("证件号码格式不正确", "The ID number is not in the right format"),
    "required": ("必填", "Required"),
    "consent_hint": ("借款人书面授权的编号（仅存储其哈希）", "The borrower's written consent (only its hash is kept)"),
    "report_title": ("个人信用报告（共享台账版）", "Credit report (consortium ledger)"),
    "report_number": ("报告编号", "Report number"),
    "institution": ("查询机构", "Institution"),
    "operator": ("查询操作员", "Operator"),
    "query_time": ("查询时间", "Query time"),
    "as_of_block": ("数据截至区块", "As of block"),
    "freshness": ("各机构数据更新日期", "Data freshness per lender"),
    "masked_id": ("证件号码（脱敏）", "ID (masked)"),
    "summary": ("信息概要", "Summary"),
    "grade": ("信用评级", "Grade"),
    "reasons": ("主要原因", "Top reasons"),
    "multi_lending": ("多头借贷机构数", "Lenders with open loans"),
    "open_loans": ("未结清贷款笔数", "Open loans"),
    "total_outstanding": ("贷款余额合计", "Total outstanding"),
    "overdue_now": ("当前逾期金额", "Overdue now"),
    "worst_24m": ("近24个月最差状态", "Worst status, 24 months"),
    "inquiries_by_window": ("近1/3/6/12个月查询次数（按原因）", "Inquiries in 1/3/6/12 months by purpose"),
    "months": ("个月", "months"),
    "loans": ("贷款明细", "Loans"),
    "lender": ("机构", "Lender"),
    "opened_on": ("开立日期", "Opened"),
    "principal": ("借款金额", "Principal"),
    "outstanding": ("余额", "Outstanding"),
    "status": ("账户状态", "Status"),
    "dpd": ("逾期天数", "Days past due"),
    "history_24m": ("近24个月还款记录", "24-month repayment history"),
    "history_legend": (
        "N 正常；1–6 逾期 30/60/90/120/150/180 天以上；D 呆账/核销；C 结清；/ 未开立（左为最近月份）",
        "N current; 1–6 30/60/90/120/150/180+ days late; D default/written off; C closed; / not opened (newest first)",
    ),
    "active": ("正常", "Active"),
    "overdue": ("逾期", "Overdue"),
    "default": ("违约", "Default"),
    "settled": ("结清", "Settled"),
    "written_off": ("核销", "Written off"),
    "adverse": ("不良信息", "Adverse events"),
    "event": ("事项", "Event"),
    "date": ("日期", "Date"),
    "amount": ("金额", "Amount"),
    "leaves_on": ("展示截止日（5年规则）", "Leaves the report on (5-year rule)"),
    "none": ("无", "None"),
    "disputes": ("异议标注", "Disputes"),
    "disputed": ("有异议", "Disputed"),
    "dispute_overdue": ("核查超期", "Verification overdue"),
    "inquiry_history": ("查询记录", "Inquiry history"),
    "provenance": ("数据来源（链上凭证）", "Provenance (on chain)"),
    "record_hash": ("记录哈希", "Record hash"),
    "transaction": ("交易", "Transaction"),
    "block": ("区块", "Block"),
    "verify": ("核验", "Verify"),
    "verified_match": ("链上核验一致", "Matches the chain"),
    "verified_mismatch": ("链上核验不一致", "Does not match the chain"),
    "print": ("打印 / 导出 PDF", "Print / save as PDF"),
    "watermark": ("{operator} · {time} · 仅供贷前审查使用", "{operator} · {time} · for pre-loan review only"),
    "loan_opened": ("开立", "Loan opened"),
    "repayment": ("还款", "Repayment"),
    "no_record": ("共享台账中无该借款人的记录", "No records for this borrower in the ledger"),
    "language": ("English", "中文"),
    "auditor_title": ("查询日志（征信业管理条例第二十二条）", "Audit log (credit reporting regulation art. 22)"),
    "person": ("人员", "Person"),
    "from": ("起", "From"),
    "to": ("止", "To"),
    "filter": ("筛选", "Filter"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "audit_intact": ("日志哈希链完整（audit verify 通过）", "Hash chain intact (audit verify passed)"),
    "audit_broken": ("日志哈希链被破坏", "Hash chain broken"),
    "action": ("操作", "Action"),
    "action_report": ("查询报告", "report"),
    "action_verify": ("核验记录", "verify"),
    "action_objection": ("异议登记", "objection"),
    "entries": ("条记录", "entries"),
    "subject": ("主体密钥", "Subject key"),
    "results": ("结果数", "Results"),
    "all": ("全部", "All"),
    "index_not_ready": ("链上索引尚未同步，请稍后重试", "The chain index has not synced yet; retry shortly"),
    "lender_not_active": ("本机构当前不是有效成员，无法查询", "This lender is not an active member: no queries"),
    # the report policy's reason codes (data/policy.json), in plain language
    "reason_WRITTEN_OFF": ("报告期内有贷款被核销", "a loan was written off within the reporting period"),
    "reason_DEFAULTED": ("报告期内有贷款违约", "a loan defaulted within the reporting period"),
    "reason_DPD_90": ("当前逾期 90 天以上", "currently 90 or more days past due"),
    "reason_DPD_30": ("当前逾期 30 天以上", "currently 30 or more days past due"),
    "reason_MULTI_LENDING_3": ("在三家及以上机构有未结清贷款（多头借贷）", "active loans at three or more lenders"),
    "reason_LATE_24M": ("近 24 个月有三个及以上月份逾期", "three or more late months in the last 24 months"),
    "reason_DPD_1": ("当前有逾期", "currently past due"),
    "reason_MULTI_LENDING_2": ("在两家机构有未结清贷款", "active loans at two lenders"),
    "reason_INQUIRIES_90D": (
        "近 90 天有四家及以上机构审批其贷款申请",
        "four or more lenders reviewed loan applications in 90 days",
    ),
    "reason_LATE_24M_ANY": ("近 24 个月有逾期月份", "a late month in the last 24 months"),
    "reason_DISPUTED_KEPT": (
        "有异议未处理的贷款仍计入评级（记录在更正前有效）",
        "loans with an open dispute were kept in the grade (a record stands until corrected)",
    ),
    "reason_DISPUTED_LEFT_OUT": (
        "有异议未处理的贷款暂不计入评级",
        "loans with an open dispute were left out of the grade until answered",
    ),
    "post_loan_title": ("贷后预警与异议", "Post-loan alerts and disputes"),
    "nav_post_loan": ("贷后预警", "Post-loan"),
    "alerts": ("预警", "Alerts"),
    "alerts_hint": (
        "本机构在贷客户在他行新增贷款、逾期、违约、核销或被查询，以及本机构记录被提出异议时产生",
        "Raised when a current borrower of this lender borrows, falls overdue, defaults or is written off "
        "elsewhere, is looked up by another lender, or disputes one of this lender's records",
    ),
    "alert_kind": ("类型", "Kind"),
    "our_reference": ("本机构参考号", "Our reference"),
    "other_lender": ("他行", "Other lender"),
    "raised_block": ("区块时间", "Block time"),
    "kind_new_loan": ("他行新增贷款", "new loan elsewhere"),
    "kind_overdue": ("他行逾期", "overdue elsewhere"),
    "kind_default": ("他行违约", "default elsewhere"),
    "kind_write_off": ("他行核销", "written off elsewhere"),
    "kind_inquiry": ("他行查询", "looked up by another lender"),
    "kind_dispute_opened": ("本机构记录被异议", "dispute on our record"),
    "disputes_heading": ("异议", "Disputes"),
    "disputes_hint": (
        "异议须自提出之日起 20 日内核查处理（征信业管理条例第二十五条）",
        "A dispute must be checked and answered within 20 days (credit reporting regulation art. 25)",
    ),
    "dispute_id": ("异议编号", "Dispute"),
    "dispute_side": ("关系", "Side"),
    "side_against_me": ("针对本机构记录", "on our record"),
    "side_opened": ("本机构代为提出", "opened by us"),
    "state": ("状态", "State"),
    "state_open": ("处理中", "open"),
    "state_overdue": ("已超期", "overdue"),
    "state_resolved": ("已处理", "resolved"),
    "due": ("截止", "Due"),
    "outcome": ("结论", "Outcome"),
    "outcome_upheld": ("维持原记录", "upheld"),
    "outcome_corrected": ("已更正", "corrected"),
    "opened_by": ("提出机构", "Opened by"),
    "keyshare_unavailable": (
        "密钥分片服务暂不可用，请稍后重试",
        "The key-share holders are unavailable; retry shortly",
    ),
}


def reason_text(language: str, code: str, fallback: str) -> str:
    """A grade reason in `language`; the policy's own text for a code this table does not know (a newer
    policy file)."""
    entry = MESSAGES.get(f"reason_{code}")
    return fallback if entry is None else entry[LANGUAGES.index(language) if language in LANGUAGES else 0]


def translator(language: str) -> Callable[..., str]:
    """`t(key, **values)` in `language` (Chinese when unknown)."""
    column = LANGUAGES.index(language) if language in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        text = MESSAGES[key][column]
        return text.format(**values) if values else text

    return t
