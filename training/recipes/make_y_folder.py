"""Write the Y channel (MATLAB rgb2ycbcr, 8 bits) of every image in the given folders as grey PNGs.

    python training/recipes/make_y_folder.py OUT ../shared/datasets/T91 ../shared/datasets/BSD200_train

Training on OUT gives the same (HR, bicubic) pairs as training on the colour images (the
default colour strategy uses only Y), from about a third of the bytes: handy for carrying the
data to a GPU machine.
"""
import os
import sys

from PIL import Image

from srcnn.colour import rgb2y
from srcnn.protocol import list_images, load_uint8

out, folders = sys.argv[1], sys.argv[2:]
os.makedirs(out, exist_ok=True)
for folder in folders:
    for p in list_images(folder):
        Image.fromarray(rgb2y(load_uint8(p))).save(
            os.path.join(out, f"{os.path.basename(os.path.normpath(folder))}_{p.stem}.png"))
