"""Images for Kimi: local files as base64 data URLs, or ms://<file_id> of an `image` upload.

Kimi takes no public http(s) URLs (kimi-api.md 2.6).
"""

import base64
import re
from pathlib import PurePath

from kimi_mcp.errors import InputError
from kimi_mcp.files import LocalFile
from kimi_mcp.types import ModelInfo

STORED_IMAGE = "ms://"  # "moonshot storage": a file uploaded with purpose "image"
_FILE_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
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


def image_part(image: LocalFile) -> dict[str, object]:
    mime = IMAGE_TYPES.get(PurePath(image.name).suffix.lower())
    if mime is None:
        raise InputError(
            f"{image.name} is not an image type Kimi reads ({', '.join(sorted(IMAGE_TYPES))}); "
            "SVG is not accepted either."
        )
    data = base64.b64encode(image.content).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


def stored_image_id(url: str) -> str:
    file_id = url.removeprefix(STORED_IMAGE)
    if not _FILE_ID.fullmatch(file_id):
        raise InputError(
            f"{url!r} is not an ms://<file_id> reference; give the id upload_file returned "
            "(letters, digits, '_', '-', '.'), or a local image path."
        )
    return file_id
