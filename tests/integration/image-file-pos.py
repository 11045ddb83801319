#!/usr/bin/env python3
"""image-file-pos.py IMAGES_DIR PATH: prints the file position CRIU recorded for PATH (the
"pos" of its REG record in files.img, decoded with CRIU's own crit). Exit 1 if PATH is not
in the image."""
import json
import subprocess
import sys

images, path = sys.argv[1], sys.argv[2]
out = subprocess.run(["crit", "decode", "-i", images + "/files.img"], check=True, capture_output=True).stdout
positions = [e["reg"].get("pos", 0) for e in json.loads(out)["entries"]
             if e.get("type") == "REG" and e["reg"].get("name") == path]
if not positions:
    sys.exit("%s is not open in the image %s" % (path, images))
print(positions[0])
