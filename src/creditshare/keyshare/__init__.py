"""Key-share holders of the threshold OPRF (subject keys v2) and the gateway's client of them.

A holder keeps one Shamir share of the OPRF key and answers signed, quota'd, logged batch evaluations of blinded
points (`holder`, `evaluation_log`); `client` is what a gateway uses to turn IDs into v2 subject keys by asking t
holders; `shares` is the share file and the dealer ceremony; `wire` is the message format both sides speak.
"""
