"""Fixtures for the ingest tests: a quarter's folders and a well-filled form."""
from __future__ import annotations

import pytest

from wcreport.core.settings import quarter_paths

EDU_ROWS = [
    [1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "新建幼儿园1所，\n拓展学位1200个。", "2023年12月"],
    [4, "实施“心希望”健康服务行动", "教育和体育事业中心", "开展心理健康评估筛查3次。", "2023年12月"],
    [7, "实施家家幸福安康行动", "教育和体育事业中心", "开展家庭教育巡讲12场。", "2023年12月"],
    [10, "实施妇幼健康促进行动", "教育和体育事业中心", "建立儿童视力健康档案。", "长期"],
]


@pytest.fixture
def paths(tmp_path):
    return quarter_paths("2023Q1", tmp_path / "inbox", tmp_path / "output")
