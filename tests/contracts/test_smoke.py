from creditshare.chain.governance import MemberStatus, Role, member
from tests.support import Consortium, credit_item, events


def test_consortium_fixture_admits_two_lenders(consortium: Consortium) -> None:
    a = member(consortium.registry, consortium.accounts[3].address)
    assert (a.role, a.status, a.name) == (Role.LENDER, MemberStatus.ACTIVE, "Lender A")
    receipt = consortium.record(consortium.accounts[3], [credit_item()])
    assert [e.name for e in events(receipt)] == ["CreditEventRecorded", "BatchRecorded"]
