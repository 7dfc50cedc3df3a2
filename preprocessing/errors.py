"""Errors a user can cause with the photo they send.

Each carries a short machine-readable `code` and a message written for the person who sent the photo,
so the CLI and the API can report it without knowing the details.
"""


class PhotoError(ValueError):
    """A photo cannot be used; `str(error)` says why and what to do."""

    code = "bad_photo"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAnImage(PhotoError):
    code = "not_an_image"


class TruncatedImage(PhotoError):
    code = "truncated_image"


class ImageTooLarge(PhotoError):
    code = "image_too_large"


class NoUsableFace(PhotoError):
    code = "no_face"
