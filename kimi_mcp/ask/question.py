"""The user message of an ask: the prompt alone, or the prompt with its images (local files
read through the path guard as data URLs, or `ms://` ids of image uploads)."""

from collections.abc import Sequence
from typing import Any

from kimi_mcp.ask.images import (
    MAX_IMAGE_BYTES,
    STORED_IMAGE,
    check_images_total,
    check_vision,
    image_mime,
    image_part,
    stored_image_id,
)
from kimi_mcp.errors import InputError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import ModelInfo
from kimi_mcp.local_files.guard import PathGuard


async def user_message(
    prompt: str,
    images: Sequence[str],
    model: ModelInfo,
    *,
    client: KimiClient,
    guard: PathGuard,
    deadline: float,
) -> dict[str, Any]:
    """The user message: plain text, or text plus images (read now: call it in a chat slot)."""
    if not images:
        return {"role": "user", "content": prompt}
    check_vision(model)
    parts: list[dict[str, object]] = [{"type": "text", "text": prompt}]
    inline = 0
    for image in images:
        if image.startswith(STORED_IMAGE):
            parts.append(await _stored_image(client, image, deadline))
            continue
        mime = image_mime(image)
        local = await guard.read(image, max_bytes=MAX_IMAGE_BYTES)
        inline += len(local.content)
        check_images_total(inline)
        parts.append(image_part(mime, local.content))
    return {"role": "user", "content": parts}


async def _stored_image(client: KimiClient, url: str, deadline: float) -> dict[str, object]:
    """An image already on Kimi: checked to be an `image` upload, else Kimi answers 400."""
    file_id = stored_image_id(url)
    purpose = (await client.file_info(file_id, deadline=deadline)).purpose
    if purpose != "image":
        raise InputError(
            f"{file_id} was uploaded with purpose '{purpose}'; Kimi shows only files "
            "uploaded with purpose 'image' as images. Upload it again with purpose 'image', "
            "or pass the local path."
        )
    return {"type": "image_url", "image_url": {"url": url}}
