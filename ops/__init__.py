"""Operations: deployment files, their checks (``python -m ops.checks``) and test prerequisites.

Not shipped in the wheel.
"""
