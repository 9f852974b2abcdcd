import datetime as dt

import pytest

from wcreport.validate.completion import parse_deadline

D = dt.date


@pytest.mark.parametrize("value, kind, date", [
    ("2023年12月底", "date", D(2023, 12, 31)),
    ("2023.12", "date", D(2023, 12, 31)),
    ("2023-06-30", "date", D(2023, 6, 30)),
    ("2023/9/30", "date", D(2023, 9, 30)),
    ("2023年12月31日前", "date", D(2023, 12, 31)),
    ("2023-12-31 00:00:00", "date", D(2023, 12, 31)),
    (dt.datetime(2023, 6, 30, 0, 0), "date", D(2023, 6, 30)),
    (D(2023, 3, 31), "date", D(2023, 3, 31)),
    (45291, "date", D(2023, 12, 31)),          # Excel serial
    ("45291", "date", D(2023, 12, 31)),
    ("45291.0", "date", D(2023, 12, 31)),
    (2023.12, "date", D(2023, 12, 31)),        # typed into a number cell
    ("年底", "date", D(2023, 12, 31)),
    ("年内", "date", D(2023, 12, 31)),
    ("十二月底", "date", D(2023, 12, 31)),
    ("12月", "date", D(2023, 12, 31)),
    ("6月30日前", "date", D(2023, 6, 30)),
    ("下半年", "date", D(2023, 12, 31)),
    ("2023年第四季度", "date", D(2023, 12, 31)),
    ("三季度末", "date", D(2023, 9, 30)),
    ("2023年1-12月", "date", D(2023, 12, 31)),
    ("２０２３年１２月", "date", D(2023, 12, 31)),   # full-width digits
    ("2024年6月", "date", D(2024, 6, 30)),
    ("长期坚持", "ongoing", None),
    ("长期", "ongoing", None),
    ("持续推进", "ongoing", None),
    ("常态化开展", "ongoing", None),
    ("", "empty", None),
    (None, "empty", None),
    ("尽快", "invalid", None),
    ("2023年13月", "invalid", None),
    (7, "invalid", None),
])
def test_parse_deadline(value, kind, date):
    parsed = parse_deadline(value, 2023)
    assert (parsed.kind, parsed.date) == (kind, date)
