"""Floor of the DAG-parse benchmark: the least a TaskFlow DAG file costs to import."""
from airflow.sdk import dag, task


@dag(dag_id="bench_empty", schedule=None, doc_md=__doc__)
def bench_empty():
    @task
    def noop() -> None:
        return None

    noop()


bench_empty()
