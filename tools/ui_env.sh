# The Airflow settings of `make ui` that do not depend on the port or the secrets (sourced by
# tools/ui.sh after tools/airflow_env.sh; tests read the configuration it gives Airflow).
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM="${UI_PARALLELISM:-2}"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
# The UI in Chinese and Beijing time for a browser that has chosen neither (Airflow has no such
# setting: plugins/ui_defaults_plugin.py stores these in the browser; the User menu still decides).
export AIRFLOW__WCREPORT_UI__DEFAULT_LANGUAGE="${UI_LANGUAGE:-zh-CN}"
export AIRFLOW__WCREPORT_UI__DEFAULT_TIMEZONE="${UI_TIMEZONE:-Asia/Shanghai}"
