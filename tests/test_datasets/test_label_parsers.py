import pytest

from epsam.datasets.label_parsers import (LABEL_PARSERS, BCSSLabelParser, CamelyonLabelParser,
                                          CSVLabelParser, LabelParseError, LUADHistoSegLabelParser,
                                          WSSS4LUADLabelParser, build_label_parser)


@pytest.mark.parametrize('parser_cls, filename, expected', [
    (CamelyonLabelParser, 'tumor_001_12_34_1.png', [1]),
    (CamelyonLabelParser, 'normal_002_5_6_0.png', [0]),
    (CamelyonLabelParser, 'data/train/image/patient_017_node_2_x123_y456_1.png', [1]),
    (BCSSLabelParser, 'TCGA-A2-A0CM-DX1_xmin18251_ymin56009_MPP-0.2500+0[1101].png',
     [1, 1, 0, 1]),
    (BCSSLabelParser, 'TCGA-E2-A1B6-DX1_xmin7380_ymin39440_MPP-0.2500+2[0010].png',
     [0, 0, 1, 0]),
    (LUADHistoSegLabelParser, '1031280-2300-27920-[1 0 0 1].png', [1, 0, 0, 1]),
    (LUADHistoSegLabelParser, '/abs/train/1057285-1656-22200-[0 1 1 0].png', [0, 1, 1, 0]),
    (WSSS4LUADLabelParser, '436219-7159-48057-[1, 1, 0].png', [1, 1, 0]),
    (WSSS4LUADLabelParser, '1.training/436219-7159-48281-[0, 0, 1].png', [0, 0, 1]),
])
def test_parsers_on_real_names(parser_cls, filename, expected):
    parser = parser_cls()
    assert parser.parse(filename) == expected
    assert parser(filename) == expected


@pytest.mark.parametrize('parser_cls, filename, reason', [
    (CamelyonLabelParser, 'tumor.png', "no '_'"),
    (CamelyonLabelParser, 'tumor_001_12_34_2.png', "'2'"),
    (CamelyonLabelParser, 'tumor_001_12_34_x.png', "'x'"),
    (BCSSLabelParser, 'TCGA-AR-A1AQ-DX1_001.png', 'no "[...]"'),
    (BCSSLabelParser, 'TCGA-A2-A0CM+0[1121].png', '0/1'),
    (BCSSLabelParser, 'TCGA-A2-A0CM+0[110].png', 'expected 4'),
    (LUADHistoSegLabelParser, '1031280-2300-27920-[1 0 0].png', 'expected 4'),
    (LUADHistoSegLabelParser, '1031280-2300-27920-[].png', '0/1'),
    (WSSS4LUADLabelParser, '436219-7159-48057-[1, 1, 0, 1].png', 'expected 3'),
    (WSSS4LUADLabelParser, '436219-7159-48057.png', 'no "[...]"'),
])
def test_bad_names_raise_error_naming_the_file(parser_cls, filename, reason):
    with pytest.raises(LabelParseError) as info:
        parser_cls().parse(filename)
    assert filename in str(info.value)
    assert reason in str(info.value)
    assert info.value.filename == filename


def test_label_length_is_not_checked_without_num_classes():
    assert BCSSLabelParser(num_classes=None).parse('x+0[101].png') == [1, 0, 1]


def test_parsers_are_registered_and_built_from_config():
    for name in ('CamelyonLabelParser', 'BCSSLabelParser', 'LUADHistoSegLabelParser',
                 'WSSS4LUADLabelParser', 'CSVLabelParser', 'BracketLabelParser'):
        assert LABEL_PARSERS.get(name) is not None, name
    parser = build_label_parser(dict(type='WSSS4LUADLabelParser'), num_classes=3)
    assert isinstance(parser, WSSS4LUADLabelParser)
    assert build_label_parser(parser) is parser


def _write_csv(tmp_path, text):
    path = tmp_path / 'labels.csv'
    path.write_text(text)
    return str(path)


def test_csv_parser_reads_header_classes_and_rows(tmp_path):
    csv_file = _write_csv(tmp_path, 'filename,tumor,stroma\na.png,1,0\nsub/b.png,1,1\n\n')
    parser = CSVLabelParser(csv_file)
    assert parser.classes == ['tumor', 'stroma']
    assert parser.num_classes == 2
    assert parser.parse('/data/img/a.png') == [1, 0]
    assert parser.parse('b.png') == [1, 1]
    # choosing and reordering class columns
    assert CSVLabelParser(csv_file, cls_classes=('stroma', )).parse('a.png') == [0]
    assert CSVLabelParser(csv_file, cls_classes=('stroma', 'tumor')).parse('a.png') == [0, 1]


@pytest.mark.parametrize('text, kwargs, reason', [
    ('name,tumor\na.png,1\n', {}, "no 'filename' column"),
    ('filename,tumor\na.png,1\n', dict(cls_classes=('stroma', )), "['stroma'] not in header"),
    ('filename,tumor\na.png,2\n', {}, 'line 2 (a.png): values must be 0 or 1'),
    ('filename,tumor\na.png,1\na.png,0\n', {}, 'line 3: a.png listed twice'),
    ('filename,tumor\na.png,1,0\n', {}, 'line 2 has 3 fields'),
    ('', {}, 'empty'),
])
def test_csv_parser_bad_tables_name_the_csv(tmp_path, text, kwargs, reason):
    csv_file = _write_csv(tmp_path, text)
    with pytest.raises(LabelParseError) as info:
        CSVLabelParser(csv_file, **kwargs)
    assert csv_file in str(info.value)
    assert reason in str(info.value)


def test_csv_parser_missing_file_and_unlisted_image(tmp_path):
    with pytest.raises(LabelParseError, match='does not exist'):
        CSVLabelParser(str(tmp_path / 'nope.csv'))
    parser = CSVLabelParser(_write_csv(tmp_path, 'filename,tumor\na.png,1\n'))
    with pytest.raises(LabelParseError) as info:
        parser.parse('img/c.png')
    assert 'img/c.png' in str(info.value) and 'not listed' in str(info.value)
