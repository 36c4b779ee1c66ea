#!/usr/bin/env python3
"""Writes tests/data/pil/: references made with PIL for image_aspect_ratio "pad" and --alpha white.

For each image and size, what LLaVA's process_images (and Imp's imp_llava/mm_utils.py) does
with image_aspect_ratio "pad" before the processor's normalisation:
    image = Image.open(path).convert("RGB")
    image = expand2square(image, tuple(int(x * 255) for x in image_mean))  # SigLIP: 0.5 -> 127
    image = image.resize((size, size), Image.BICUBIC)
stored as uint8 HWC under "{file}@{size}" in expand2square_u8.safetensors. Also writes
chelsea_portrait.png (chelsea.png rotated 90 degrees), the portrait input, and
alpha_white_u8.safetensors: transparent images composited onto white (what --alpha white asks
for) and resized, "{file}@{size}":
    rgba = Image.open(path).convert("RGBA")
    image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    image = image.resize((size, size), Image.BICUBIC)

Run from the repository root with Debian's python3-pil: python3 scripts/make-pil-pad-fixture.py
"""
import json
import struct
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = DATA / "pil"
SIZES = (56, 70, 384)
MEAN = (0.5, 0.5, 0.5)


def expand2square(image, background):
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new(image.mode, (side, side), background)
    result.paste(image, ((side - width) // 2, (side - height) // 2))
    return result


def write_u8_safetensors(path, images, metadata):
    """images: {key: PIL RGB image}, stored as uint8 HWC."""
    header, blobs, offset = {}, [], 0
    for key, image in images.items():
        data = image.tobytes()
        header[key] = {"dtype": "U8", "shape": [image.height, image.width, 3],
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    Image.open(DATA / "images" / "chelsea.png").transpose(Image.Transpose.ROTATE_90).save(OUT / "chelsea_portrait.png")
    inputs = [
        DATA / "images" / "chelsea.png",            # landscape RGB
        OUT / "chelsea_portrait.png",               # portrait RGB
        DATA / "images" / "rocket.jpg",             # landscape JPEG, odd difference (213 rows)
        DATA / "images" / "camera.png",             # square grayscale: unchanged
        DATA / "images" / "palette_color.png",      # square palette
        DATA / "fixtures" / "preprocess" / "alpha_gradient.png",  # RGBA, alpha dropped first
        DATA / "fixtures" / "preprocess" / "tiny_13x20.png",      # 20x13, upscaled
    ]
    fill = tuple(int(x * 255) for x in MEAN)
    padded = {}
    for path in inputs:
        square = expand2square(Image.open(path).convert("RGB"), fill)
        for size in SIZES:
            padded[f"{path.name}@{size}"] = square.resize((size, size), Image.BICUBIC)
    made_by = {"made_by": "scripts/make-pil-pad-fixture.py", "pillow": Image.__version__}
    write_u8_safetensors(OUT / "expand2square_u8.safetensors", padded, {**made_by, "fill": ",".join(map(str, fill))})

    composited = {}
    for path in [DATA / "fixtures" / "preprocess" / "alpha_gradient.png"]:
        rgba = Image.open(path).convert("RGBA")
        white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        for size in (56, 64):
            composited[f"{path.name}@{size}"] = white.resize((size, size), Image.BICUBIC)
    write_u8_safetensors(OUT / "alpha_white_u8.safetensors", composited, made_by)

if __name__ == "__main__":
    main()
