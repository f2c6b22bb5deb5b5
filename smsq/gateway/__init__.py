"""The HTTP gateway: smsq for backends not written in Python."""
