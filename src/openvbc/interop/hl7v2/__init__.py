"""HL7 v2 (pipe-and-hat) ADT messages: MLLP framing, parsing, escapes, ACKs, ADT events.

Pure: bytes and text in, values out. Sockets live in ``openvbc.mllp``; storage in
``openvbc.services.adt``. Module map:

- ``framing``  MLLP frame decoder over bytes (several frames per read, split frames, junk, size cap)
- ``charset``  MSH-18 character set -> codec, decoding with a configured default
- ``message``  parser with delimiters from MSH-1/MSH-2; segment/field/component access
- ``escaping`` escape/unescape of delimiter and hex sequences
- ``ack``      original/enhanced mode ACK choice and ACK builder (MSA, ERR)
- ``adt``      ADT message -> ``AdtEvent``
- ``inbound``  one framed message -> ``Accepted`` (to store) or ``Refused`` (with the ACK reason)
- ``batch``    FHS/BHS batch files -> messages
- ``visit``    the events of one visit -> encounter state (order independent)
"""
