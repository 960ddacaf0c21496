"""Errors raised while building a label: each names the field at fault."""


class TemplateError(ValueError):
    """Bad template input: unknown template, missing field, text that does not fit, bad barcode value."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
