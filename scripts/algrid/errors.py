"""Errors that carry a one-line, user-facing message (file:line or config key, and what to fix)."""


class AlgridError(Exception):
    """Base class: the message alone is shown to the user, without a traceback."""


class ConfigError(AlgridError):
    """A config key has a bad value. The message starts with the key path."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config key '{key}': {problem}")
        self.key = key


class DataError(AlgridError):
    """An input file is missing or malformed. The message starts with file[:line]."""

    def __init__(self, path, problem: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
