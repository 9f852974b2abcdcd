"""Times on the 季度报送 page: Beijing time, as the Airflow UI here shows it."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")   # the Airflow UI's default_timezone here (tools/airflow_env.sh)


def beijing_time(moment: str | None) -> str:
    """An ISO time from the manifest as '2023-03-31 18:00（北京时间）' ('' if absent; as is if unreadable)."""
    if not moment:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        return str(moment)
    if parsed.tzinfo is None:      # the pipeline writes local (Beijing) times without an offset
        parsed = parsed.replace(tzinfo=BEIJING)
    return parsed.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") + "（北京时间）"
