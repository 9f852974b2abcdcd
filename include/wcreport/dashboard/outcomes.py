"""What the dashboard's actions really did, in the words the page shows.

The page never reports an action as done because a request was accepted: it polls the
run and the task instance through Airflow's REST API and words the state found there;
a reminder's result is the ``send_reminders`` task's return value (the reminder run's
``RunSummary``: sent, no_address, already_sent_today, accepted, failed).
"""
from __future__ import annotations

from wcreport.core.labels import UNIT_STATUS_ZH, label
from wcreport.deliver.address_book import WHERE_TO_SET_AN_ADDRESS

STATE_ZH = {None: "等待调度", "none": "等待调度", "scheduled": "已计划", "queued": "排队中", "running": "运行中",
            "success": "成功", "failed": "失败", "up_for_retry": "等待重试", "restarting": "重启中",
            "upstream_failed": "上游失败", "skipped": "已跳过", "removed": "已移除", "deferred": "已延迟"}
WAITING = {None, "none", "scheduled", "queued", "running", "up_for_retry", "restarting", "deferred"}
FAILED = {"failed", "upstream_failed", "removed"}

# The reminder run's RunSummary lists, in the order a unit is looked up.
REMINDER_OUTCOME_ZH = {
    "sent": "已发送提醒邮件",
    "no_address": "未配置邮箱，未发送（" + WHERE_TO_SET_AN_ADDRESS + "）",
    "already_sent_today": "今天已提醒过，未重复发送",
    "accepted": "该单位已通过校验，无需提醒，未发送",
    "failed": "发送失败（邮件服务出错），请查看提醒运行的日志",
}


def state_zh(state: str | None) -> str:
    return STATE_ZH.get(state, str(state))


def paused_message(dag_id: str, what: str) -> str:
    return f"流程 {dag_id} 已暂停：{what}。启用该流程后才会执行。"


def reminder_outcome(summary: dict | None, unit: str) -> tuple[str, str]:
    """(outcome key, Chinese text) of one unit in the reminder run's summary."""
    if not isinstance(summary, dict):
        return "skipped", "提醒流程没有执行发送步骤（已跳过），未发送"
    for key, text in REMINDER_OUTCOME_ZH.items():
        if unit in (summary.get(key) or []):
            return key, text
    return "not_processed", "提醒运行没有处理该单位，未发送"


def reminder_progress(run_state: str | None) -> str:
    return f"提醒运行{state_zh(run_state)}，等待结果…"


def rerun_progress(ti_state: str | None, unit_status: str | None, merge_state: str | None) -> tuple[bool, str]:
    """(done, Chinese text) for a rerun: the unit's ingest, then the quarter's merge."""
    if ti_state in FAILED:
        return True, f"重跑失败（入库任务{state_zh(ti_state)}），请查看任务日志"
    if ti_state != "success":
        return False, f"已清除，入库任务{state_zh(ti_state)}…"
    done = f"重跑完成：{label(UNIT_STATUS_ZH, unit_status) or '结果未知'}"
    if merge_state == "success":
        return True, f"{done}；汇总已更新"
    if merge_state in FAILED:
        return True, f"{done}；汇总（merge）{state_zh(merge_state)}，请查看任务日志"
    return False, f"{done}；正在汇总（merge {state_zh(merge_state)}）…"
