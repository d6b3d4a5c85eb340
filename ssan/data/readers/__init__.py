"""Own scenes from files: MATLAB .mat, ENVI and GeoTIFF cubes; .mat, ENVI, GeoTIFF and PNG label maps."""

from ssan.data.readers.labels import LABEL_FORMATS, read_class_names, read_labels
from ssan.data.readers.scenefile import CUBE_FORMATS, is_scene_file, load_file_scene

__all__ = [
    "CUBE_FORMATS",
    "LABEL_FORMATS",
    "is_scene_file",
    "load_file_scene",
    "read_class_names",
    "read_labels",
]
