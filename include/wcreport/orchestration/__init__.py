"""The functions DAG tasks call, DAG defaults, alerts, the timetable: the only package that imports Airflow."""
