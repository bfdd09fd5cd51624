"""Cut a whole-slide image into labelled patches in epsam's Camelyon layout.

Example (EP-SAM's Camelyon16 recipe: 512 px at level 0, positives 20-90 % tumour):

    python tools/wsi/extract_patches.py tumor_001.tif --annotations tumor_001.xml \\
        --out data/camelyon16/train --patch-size 512 --level 0 --min-tissue 0.5

Writes ``{out}/image/{slide}_{x}_{y}_{label}.png``, ``{out}/mask/`` for positive
patches, ``{out}/coordinates.csv`` and ``{out}/thumbnails/{slide}_tissue.png``.
Rerunning skips the patches already written.
"""
import argparse
import os

from epsam.utils.cli import (DefaultsHelpFormatter, add_debug_argument, report_user_error,
                             run_tool)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument('slide', help='whole-slide image (any format OpenSlide/tiffslide reads)')
    parser.add_argument('--annotations', help='tumour annotations: ASAP/Camelyon .xml or QuPath '
                        '.geojson (none: every patch is labelled 0, a normal slide)')
    parser.add_argument('--out', required=True, help='output folder (a split, e.g. .../train)')
    parser.add_argument('--patch-size', type=int, default=512, help='patch side in pixels')
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--level', type=int, help='pyramid level to cut at (default 0)')
    where.add_argument('--mpp', type=float, help='resolution to cut at, in microns per pixel')
    parser.add_argument('--stride', type=int, help='step between patches in pixels '
                        '(default: the patch size, no overlap)')
    parser.add_argument('--min-tissue', type=float, default=0.5,
                        help='smallest tissue fraction of a patch')
    parser.add_argument('--tumour-fraction', type=float, nargs=2, default=(0.2, 0.9),
                        metavar=('LOW', 'HIGH'), help='tumour fraction of a positive patch '
                        '(EP-SAM: 0.2 0.9; "0 1" = any tumour)')
    parser.add_argument('--outside-rule', choices=('skip', 'positive'), default='skip',
                        help='patches with some tumour outside LOW..HIGH: skip them or label 1')
    parser.add_argument('--exclude-groups', nargs='*', default=None,
                        help='annotation groups/classes that are exclusion regions '
                        '(default: _2 Exclusion Ignore)')
    parser.add_argument('--tissue-level', type=int, help='level of the tissue detection '
                        '(default: the coarsest with downsample <= 32)')
    parser.add_argument('--slide-mpp', type=float, help='microns per level-0 pixel, for slides '
                        'without that metadata')
    parser.add_argument('--backend', default='auto', choices=('auto', 'openslide', 'tiffslide'))
    parser.add_argument('--name', help='slide name in patch names (default: the file stem)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from epsam.wsi import (DEFAULT_EXCLUDE_GROUPS, TissueDetector, TumourFractionRule, WSIError,
                           extract_patches, load_annotations, open_slide, plan_tiles,
                           save_tissue_thumbnail, tile_layout)
    name = args.name or os.path.splitext(os.path.basename(args.slide))[0]
    try:
        rule = TumourFractionRule(*args.tumour_fraction, outside=args.outside_rule)
        with open_slide(args.slide, backend=args.backend, mpp=args.slide_mpp) as reader:
            annotations = None
            if args.annotations:
                groups = DEFAULT_EXCLUDE_GROUPS if args.exclude_groups is None \
                    else args.exclude_groups
                annotations = load_annotations(args.annotations, exclude_groups=groups)
                annotations.check_within(*reader.dimensions)
            layout = tile_layout(reader, args.patch_size, level=args.level, mpp=args.mpp,
                                 stride=args.stride)
            tissue = TissueDetector(level=args.tissue_level)(reader)
            save_tissue_thumbnail(os.path.join(args.out, 'thumbnails', f'{name}_tissue.png'),
                                  reader, tissue)
            tiles = plan_tiles(reader, layout, tissue, min_tissue=args.min_tissue)
            if not tiles:
                print(f'{args.slide}: no tissue tile (tissue covers {tissue.area_fraction:.1%} '
                      f'of the slide; min tissue {args.min_tissue}): no patch written')
            result = extract_patches(reader, layout, tiles, args.out, name, annotations, rule,
                                     progress=not args.no_progress)
    except (WSIError, ValueError, ImportError) as error:
        return report_user_error(error, argv)
    print(f'\n{name}: {len(tiles)} tissue tiles at level {layout.level} '
          f'({layout.read_size} px read, {layout.size} px saved): {result["written"]} written, '
          f'{result["existing"]} already there, {result["skipped"]} skipped by the tumour '
          f'rule; {result["positive"]} positive, {result["negative"]} negative')
    return 0


if __name__ == '__main__':
    run_tool(main)
