"""Source code for image builds: a checkout of exactly one commit, paths kept inside it, the
content-addressed tag of the image built from it, and the build steps every build backend
shares (:mod:`qengine.source.pipeline`).

Every build backend uses this package, so a token, an SSH key, a path check or a timeout
behaves the same whatever builds the image.
"""

from qengine.source.git import GitAuth, fetch_commit
from qengine.source.identity import image_tag
from qengine.source.paths import inside_checkout
from qengine.source.references import ImageName, parse_image
from qengine.source.settings import BUILD_SETTINGS, BuildSettings

__all__ = [
    "BUILD_SETTINGS",
    "BuildSettings",
    "GitAuth",
    "ImageName",
    "fetch_commit",
    "image_tag",
    "inside_checkout",
    "parse_image",
]
