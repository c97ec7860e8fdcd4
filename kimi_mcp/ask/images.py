"""Images for Kimi: local files as base64 data URLs, or ms://<file_id> of an `image` upload.

Kimi takes no public http(s) URLs (kimi-api.md 2.6).
"""

import base64
from pathlib import PurePath

from kimi_mcp.errors import InputError
from kimi_mcp.kimi.paths import FILE_ID
from kimi_mcp.kimi.types import ModelInfo

MIB = 1024 * 1024
# Kimi takes at most 100 MB per request (kimi-api.md 2.6) and base64 adds a third, so a call's
# inline images stay under 70 MB; one image over 20 MB is far past the advised 4K resolution.
MAX_IMAGE_BYTES = 20 * MIB
MAX_IMAGES_BYTES = 70 * MIB
STORED_IMAGE = "ms://"  # "moonshot storage": a file uploaded with purpose "image"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}


def check_vision(model: ModelInfo) -> None:
    if not model.supports_image_in:
        raise InputError(
            f"{model.id} cannot see images (supports_image_in is false). Nothing was sent. "
            "Pick a model with image input from list_models, such as kimi-k2.6."
        )


def image_mime(path: str) -> str:
    """The MIME type Kimi needs in the data URL; checked before the file is read."""
    mime = IMAGE_TYPES.get(PurePath(path).suffix.lower())
    if mime is None:
        raise InputError(
            f"{PurePath(path).name} is not an image type Kimi reads "
            f"({', '.join(sorted(IMAGE_TYPES))}); SVG is not accepted either."
        )
    return mime


def image_part(mime: str, content: bytes) -> dict[str, object]:
    data = base64.b64encode(content).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


def check_images_total(total: int) -> None:
    if total > MAX_IMAGES_BYTES:
        raise InputError(
            f"The images add up to {total // MIB} MB; inline (base64) they would pass Kimi's "
            f"100 MB request limit. Send at most {MAX_IMAGES_BYTES // MIB} MB of images per "
            "call: downscale them, or upload them (purpose 'image') and pass ms://<file_id>."
        )


def stored_image_id(url: str) -> str:
    file_id = url.removeprefix(STORED_IMAGE)
    if not FILE_ID.matches(file_id):  # the rule every id in a URL path follows
        raise InputError(
            f"{url[:80]!r} is not an ms://<file_id> reference: a {FILE_ID.name} is "
            f"{FILE_ID.looks_like}. Give the id upload_file returned, or a local image path."
        )
    return file_id
