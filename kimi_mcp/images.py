"""Local images as base64 data URLs (Kimi takes no public http URLs; kimi-api.md 2.6)."""

import base64
from pathlib import PurePath

from kimi_mcp.errors import InputError
from kimi_mcp.files import LocalFile
from kimi_mcp.types import ModelInfo

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
