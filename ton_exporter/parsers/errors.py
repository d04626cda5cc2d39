"""The error every record parser raises for a record it cannot use."""


class RecordError(Exception):
    """A record that cannot be used. `reason` is a bounded label value for the rejects counter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
