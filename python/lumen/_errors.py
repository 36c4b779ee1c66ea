"""The exceptions Lumen raises. Every error from the library is a :class:`lumen.Error`
subclass chosen by what went wrong, carrying the library's one-line message (the same text
``lumen`` prints after ``lumen: error:``)."""


class Error(Exception):
    """Base class of every error Lumen raises."""


class InvalidInputError(Error, ValueError):
    """Malformed or unsupported input: a bad or truncated image, a bad checkpoint or catalog,
    an out-of-range option, a prompt whose ``<image>`` markers do not match its images."""


class NotFoundError(Error, FileNotFoundError):
    """A file, directory, tensor or item id that should exist does not."""


class LimitExceededError(Error, ValueError):
    """A configured bound was hit: image pixels, file size, the model's context length."""


class IOError(Error, OSError):  # noqa: A001 - lumen.IOError, not the builtin alias
    """The operating system refused a read, write or map."""


class InternalError(Error, RuntimeError):
    """A bug in Lumen (please report it with the message)."""


__all__ = ["Error", "InvalidInputError", "NotFoundError", "LimitExceededError", "IOError", "InternalError"]
