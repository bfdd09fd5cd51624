"""Cut a slide into labelled patches in epsam's Camelyon layout.

``{out}/image/{slide}_{x}_{y}_{label}.png`` (RGB), ``{out}/mask/`` the same
name for positive patches (uint8, 1 = tumour, 0 = not), and
``{out}/coordinates.csv`` with one row per written patch. ``x, y`` are the
patch's level-0 top-left. A patch whose files exist is not written again (the
mask is written before the image, so an image implies its mask). At the end
of a run the CSV's rows of this slide are replaced (rows of other slides
cut into the same folder are kept), atomically.
"""
import csv
import io
import os
from typing import List, Optional

from epsam.fileio.atomic_io import atomic_write_text
from epsam.utils.progress import progress_bar

from .annotations import SlideAnnotations, TumourFractionRule
from .export import write_png
from .reader import BaseSlideReader
from .tiling import Tile, TileLayout, read_tile

__all__ = ['PatchRecord', 'extract_patches', 'CSV_FIELDS', 'write_coordinates_csv',
           'read_coordinates_csv']

CSV_FIELDS = ('slide', 'x', 'y', 'level', 'size', 'tissue_fraction', 'tumour_fraction', 'label')


class PatchRecord(dict):
    """One row of ``coordinates.csv`` (a dict with :data:`CSV_FIELDS` keys)."""


def _patch_name(slide_name: str, tile: Tile, label: int) -> str:
    return f'{slide_name}_{tile.x}_{tile.y}_{label}.png'


def extract_patches(reader: BaseSlideReader, layout: TileLayout, tiles: List[Tile],
                    out_dir: str, slide_name: str,
                    annotations: Optional[SlideAnnotations] = None,
                    rule: Optional[TumourFractionRule] = None,
                    progress: bool = True) -> dict:
    """Write the patches of ``tiles`` and return counts.

    Args:
        reader: The slide.
        layout: Tile geometry (patch size, level, resolution).
        tiles: The tiles to cut (e.g. the tissue tiles of :func:`plan_tiles`).
        out_dir: Output folder (``image/``, ``mask/``, ``coordinates.csv``).
        slide_name: Prefix of the patch names; must not contain ``/``.
        annotations: Tumour annotations; None labels every patch 0 (a normal slide).
        rule: Label from tumour fraction; None = EP-SAM's 20-90 % rule.
        progress: Show a progress bar.

    Returns:
        dict: ``written``, ``existing``, ``skipped`` (outside the rule),
        ``positive``, ``negative`` counts and the ``records``.
    """
    rule = rule or TumourFractionRule()
    image_dir, mask_dir = os.path.join(out_dir, 'image'), os.path.join(out_dir, 'mask')
    counts = dict(written=0, existing=0, skipped=0, positive=0, negative=0)
    records: List[PatchRecord] = []
    bar = progress_bar(len(tiles), progress, label='patches: ')
    for tile in tiles:
        bar.update()
        mask = None
        fraction = 0.0
        if annotations is not None:
            mask = annotations.rasterize(tile.x, tile.y, layout.size, layout.size,
                                         layout.downsample)
            fraction = float(mask.mean())
        label = rule(fraction)
        if label is None:
            counts['skipped'] += 1
            continue
        name = _patch_name(slide_name, tile, label)
        image_path, mask_path = os.path.join(image_dir, name), os.path.join(mask_dir, name)
        done = os.path.isfile(image_path) and (label == 0 or os.path.isfile(mask_path))
        if done:
            counts['existing'] += 1
        else:
            if label == 1:
                write_png(mask_path, mask)
            write_png(image_path, read_tile(reader, layout, tile))
            counts['written'] += 1
        counts['positive' if label else 'negative'] += 1
        records.append(PatchRecord(slide=slide_name, x=tile.x, y=tile.y, level=layout.level,
                                   size=layout.size,
                                   tissue_fraction=round(tile.tissue_fraction, 4),
                                   tumour_fraction=round(fraction, 4), label=label))
    csv_path = os.path.join(out_dir, 'coordinates.csv')
    others = [row for row in read_coordinates_csv(csv_path) if row['slide'] != slide_name] \
        if os.path.isfile(csv_path) else []
    write_coordinates_csv(csv_path, others + records)
    return dict(counts, records=records)


def write_coordinates_csv(path: str, records: List[dict]) -> None:
    """Write the records as a CSV with :data:`CSV_FIELDS` columns (atomically)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(records)
    atomic_write_text(path, buffer.getvalue())


def read_coordinates_csv(path: str) -> List[dict]:
    """Rows of a ``coordinates.csv`` with numeric fields converted."""
    with open(path, newline='', encoding='utf-8') as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        for key in ('x', 'y', 'level', 'size', 'label'):
            row[key] = int(row[key])
        for key in ('tissue_fraction', 'tumour_fraction'):
            row[key] = float(row[key])
    return rows
