"""Image-level (patch) label parsers, one per file-name format.

Every parser has the same interface: ``parser.parse(filename)`` returns a
multi-hot list of 0/1 over the dataset's ``cls_classes`` (in their order) and
raises :class:`LabelParseError` naming the file when the label cannot be read.
Parsers are registered in :data:`LABEL_PARSERS`, so a dataset config may pick
one with ``label_parser=dict(type='BCSSLabelParser')``.
"""
import csv
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import mmengine.fileio as fileio

from epsam.fileio.errors import LabelParseError
from epsam.registry import LABEL_PARSERS

__all__ = [
    'LABEL_PARSERS', 'LabelParseError', 'BaseLabelParser', 'CamelyonLabelParser',
    'BracketLabelParser', 'BCSSLabelParser', 'LUADHistoSegLabelParser',
    'WSSS4LUADLabelParser', 'CSVLabelParser'
]


class BaseLabelParser:
    """Common interface: ``parse(filename) -> list[int]``.

    Args:
        num_classes: Expected label length (``len(cls_classes)``); ``None``
            accepts any length.
    """

    def __init__(self, num_classes: Optional[int] = None) -> None:
        self.num_classes = num_classes

    def parse(self, filename: str) -> List[int]:
        """Multi-hot label of ``filename`` (a name or a path; only the base name is read).

        Raises:
            LabelParseError: the name holds no label in this format, or the
                label has the wrong length.
        """
        label = self._parse_name(osp.basename(str(filename)), str(filename))
        if self.num_classes is not None and len(label) != self.num_classes:
            raise LabelParseError(
                filename, f'label {label} has {len(label)} entries, expected '
                f'{self.num_classes} ({type(self).__name__})')
        return label

    __call__ = parse

    def _parse_name(self, name: str, filename: str) -> List[int]:
        raise NotImplementedError


@LABEL_PARSERS.register_module()
class CamelyonLabelParser(BaseLabelParser):
    """Camelyon16/17 patches: ``{patch_id}_{label}.png``, label 0 (normal) or 1 (tumour).

    The patch id may contain underscores (``tumor_001_12_34_1.png``); the label
    is the last ``_`` field of the stem. Returns ``[label]`` over
    ``cls_classes=('tumor',)``.
    """

    def __init__(self, num_classes: Optional[int] = 1) -> None:
        super().__init__(num_classes)

    def _parse_name(self, name: str, filename: str) -> List[int]:
        stem = osp.splitext(name)[0]
        if '_' not in stem:
            raise LabelParseError(
                filename, "expected '{patch_id}_{label}' with label 0 or 1, found no '_'")
        field = stem.rsplit('_', 1)[1]
        if field not in ('0', '1'):
            raise LabelParseError(
                filename, f"expected '{{patch_id}}_{{label}}' with label 0 or 1, "
                f'last field is {field!r}')
        return [int(field)]


@LABEL_PARSERS.register_module()
class BracketLabelParser(BaseLabelParser):
    """Labels in the last ``[...]`` of the stem: ``[1101]``, ``[1 0 0 1]``, ``[1, 1, 0]``.

    Digits may be written together or separated by spaces and/or commas.
    """

    _BRACKET = re.compile(r'\[([^\[\]]*)\][^\[\]]*$')
    _SEPARATORS = re.compile(r'[\s,]+')

    def _parse_name(self, name: str, filename: str) -> List[int]:
        match = self._BRACKET.search(name)
        if match is None:
            raise LabelParseError(
                filename, f'no "[...]" label found in the name ({type(self).__name__} '
                'expects e.g. "[1101]", "[1 0 0 1]" or "[1, 1, 0]")')
        content = match.group(1).strip()
        tokens = (self._SEPARATORS.split(content)
                  if self._SEPARATORS.search(content) else list(content))
        if not tokens or any(token not in ('0', '1') for token in tokens):
            raise LabelParseError(
                filename, f'label "[{match.group(1)}]" must hold only 0/1 digits')
        return [int(token) for token in tokens]


@LABEL_PARSERS.register_module()
class BCSSLabelParser(BracketLabelParser):
    """BCSS-WSSS: ``TCGA-A2-A0CM-DX1_xmin18251_ymin56009_MPP-0.2500+0[1101].png``.

    Label order (TUM, STR, LYM, NEC).
    """

    def __init__(self, num_classes: Optional[int] = 4) -> None:
        super().__init__(num_classes)


@LABEL_PARSERS.register_module()
class LUADHistoSegLabelParser(BracketLabelParser):
    """LUAD-HistoSeg: ``1031280-2300-27920-[1 0 0 1].png``; order (TE, NEC, LYM, TAS)."""

    def __init__(self, num_classes: Optional[int] = 4) -> None:
        super().__init__(num_classes)


@LABEL_PARSERS.register_module()
class WSSS4LUADLabelParser(BracketLabelParser):
    """WSSS4LUAD: ``...-[1, 1, 0].png``; order (tumor, stroma, normal)."""

    def __init__(self, num_classes: Optional[int] = 3) -> None:
        super().__init__(num_classes)


@LABEL_PARSERS.register_module()
class CSVLabelParser(BaseLabelParser):
    """Labels from a CSV table: a file-name column and one 0/1 column per class.

    Example table (the header names the classes)::

        filename,tumor,stroma
        a.png,1,0
        b.png,1,1

    Rows are matched on the base name of the image file.

    Args:
        csv_file: Path of the CSV table.
        cls_classes: Class columns to read, in label order; ``None`` reads every
            column but the file-name column, in header order.
        filename_column: Name of the file-name column.
        backend_args: mmengine file backend arguments.
    """

    def __init__(self,
                 csv_file: str,
                 cls_classes: Optional[Sequence[str]] = None,
                 filename_column: str = 'filename',
                 backend_args: Optional[dict] = None) -> None:
        self.csv_file = str(csv_file)
        self.filename_column = filename_column
        try:
            text = fileio.get_text(self.csv_file, backend_args=backend_args)
        except FileNotFoundError:
            raise LabelParseError(self.csv_file, 'label CSV file does not exist') from None
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            raise LabelParseError(self.csv_file, 'label CSV file is empty')
        header = [name.strip() for name in rows[0]]
        self.classes = self._pick_columns(header, cls_classes)
        self.labels = self._read_rows(header, rows[1:])
        super().__init__(len(self.classes))

    def _pick_columns(self, header: List[str],
                      cls_classes: Optional[Sequence[str]]) -> List[str]:
        if self.filename_column not in header:
            raise LabelParseError(
                self.csv_file, f'no {self.filename_column!r} column in header {header}')
        available = [name for name in header if name != self.filename_column]
        wanted = list(cls_classes) if cls_classes is not None else available
        missing = [name for name in wanted if name not in available]
        if missing or not wanted:
            raise LabelParseError(
                self.csv_file, f'class column(s) {missing or wanted} not in header {header}')
        return wanted

    def _read_rows(self, header: List[str], rows: List[List[str]]) -> Dict[str, List[int]]:
        name_col = header.index(self.filename_column)
        class_cols = [header.index(name) for name in self.classes]
        labels: Dict[str, List[int]] = {}
        for line_no, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise LabelParseError(
                    self.csv_file, f'line {line_no} has {len(row)} fields, '
                    f'the header has {len(header)}')
            name = osp.basename(row[name_col].strip())
            values = [row[col].strip() for col in class_cols]
            bad = [(self.classes[i], value) for i, value in enumerate(values)
                   if value not in ('0', '1')]
            if bad:
                raise LabelParseError(
                    self.csv_file, f'line {line_no} ({name}): values must be 0 or 1, '
                    f'got {bad}')
            if name in labels:
                raise LabelParseError(self.csv_file, f'line {line_no}: {name} listed twice')
            labels[name] = [int(value) for value in values]
        return labels

    def _parse_name(self, name: str, filename: str) -> List[int]:
        if name not in self.labels:
            raise LabelParseError(filename, f'not listed in label table {self.csv_file}')
        return list(self.labels[name])


def build_label_parser(cfg, **default_args) -> BaseLabelParser:
    """Build a parser from a config dict, or pass an already-built parser through."""
    if isinstance(cfg, BaseLabelParser):
        return cfg
    return LABEL_PARSERS.build(cfg, default_args=default_args or None)
