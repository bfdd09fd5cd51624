"""Generate a synthetic H&E-like patch dataset (the demo's and the tests' default data).

Examples::

    # binary tumour / normal patches, EP-SAM's Camelyon layout
    python tools/dataset_converters/generate_synthetic_data.py camelyon --out data/synth_camelyon
    # four tissue classes, BCSS-WSSS layout, 256 px patches
    python tools/dataset_converters/generate_synthetic_data.py bcss --out data/synth_bcss \\
        --num-train 400 --size 256 --seed 1

The same arguments always give byte-identical files; rerunning into the same
folder skips the files that exist (so an interrupted run can be resumed), and
a folder made with other arguments is refused.
"""
import argparse
from typing import List, Optional

from epsam.datasets.synthetic import (generate_bcss_like,
                                      generate_camelyon_like)
from epsam.utils.cli import DefaultsHelpFormatter, ToolError, add_debug_argument, run_tool  # noqa: E501

DESCRIPTION = """\
Write synthetic H&E-like patches with ground-truth masks.

camelyon: binary tumour/normal patches in EP-SAM's layout
  OUT/{train,val,test}/image/{patch_id}_{label}.png  (label 1 = contains tumour)
  OUT/{train,val,test}/mask/{patch_id}_{label}.png   (positives only; 0 / 255)
bcss: tissue classes TUM 0, STR 1, LYM 2, NEC 3, background 4, BCSS-WSSS layout
  OUT/training/{id}+0[abcd].png  (a-d: presence of TUM, STR, LYM, NEC)
  OUT/{val,test}/img/{id}.png, OUT/{val,test}/mask/{id}.png  (palette PNG, value = class)
Both write OUT/metadata.json."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``sys.argv[1:]`` when ``argv`` is ``None``)."""
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=DefaultsHelpFormatter)
    parser.add_argument('format', choices=['camelyon', 'bcss'], help='dataset layout to write')
    parser.add_argument('--out', required=True, help='output folder (dataset root)')
    parser.add_argument('--num-train', type=int, default=160, help='training patches')
    parser.add_argument('--num-val', type=int, default=20, help='validation patches')
    parser.add_argument('--num-test', type=int, default=20, help='test patches')
    parser.add_argument('--size', type=int, default=128, help='patch side in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--scale', type=float, default=1.0,
        help='size of nuclei and textures relative to the default, e.g. 2 for '
        'twice the magnification')
    camelyon = parser.add_argument_group('camelyon only')
    camelyon.add_argument(
        '--positive-ratio', type=float, default=0.5,
        help='fraction of patches that contain tumour, per split')
    camelyon.add_argument(
        '--tumour-fraction', type=float, nargs=2, default=(0.2, 0.9), metavar=('MIN', 'MAX'),
        help='range of the tumour area fraction of a positive patch (0.2 0.9, as EP-SAM keeps)')
    bcss = parser.add_argument_group('bcss only')
    bcss.add_argument(
        '--min-fraction', type=float, default=0.03,
        help='smallest area fraction of a class in a patch; a class is present '
        '(flag 1) when it covers at least this')
    bcss.add_argument(
        '--background-prob', type=float, default=0.35,
        help='probability that a patch contains background glass')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Generate the dataset and print one summary line per split.

    Args:
        argv: Command-line arguments without the program name.

    Returns:
        dict: The generator's summary (see ``generate_camelyon_like``).
    """
    args = parse_args(argv)
    common = dict(num_train=args.num_train, num_val=args.num_val, num_test=args.num_test,
                  patch_size=args.size, scale=args.scale, seed=args.seed)
    try:
        if args.format == 'camelyon':
            result = generate_camelyon_like(
                args.out, positive_ratio=args.positive_ratio,
                tumour_fraction=tuple(args.tumour_fraction), **common)
        else:
            result = generate_bcss_like(
                args.out, min_fraction=args.min_fraction,
                background_prob=args.background_prob, **common)
    except (ValueError, FileExistsError) as error:
        raise ToolError(str(error)) from None
    for split, info in result['splits'].items():
        if args.format == 'camelyon':
            content = f'{info["num_positive"]} positive'
        else:
            content = ', '.join(f'{name} {count}' for name, count in info['class_counts'].items())
        print(f'{split}: {info["num_patches"]} patches ({content}); '
              f'{info["written"]} written, {info["skipped"]} already there -> {info["folder"]}')
    print(f'metadata: {result["metadata"]}')
    return result


if __name__ == '__main__':
    run_tool(main)
