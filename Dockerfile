# Production image for the quarterly progress-report pipeline.
#
# Built FROM the official Airflow image (same Airflow and Python versions as the
# virtualenv the test suite runs in), plus our pinned requirements and the
# `wcreport` package. Used by every Airflow service in docker-compose.yaml.
#
#   docker compose build            # after changing requirements.txt / requirements.lock
#   docker compose up -d
#
# The "slim" variant (Airflow core without the ~30 preinstalled providers)
# so requirements.lock alone decides which providers and library versions are
# present; the Python minor version is the one the lock was resolved and
# tested on (3.11). Together: the image runs the versions CI ran.
FROM apache/airflow:slim-3.3.2-python3.11

# Project files live directly under AIRFLOW_HOME (/opt/airflow) so the package's
# PROJECT_ROOT (the folder holding include/) is /opt/airflow and the
# defaults of wcreport.core.settings point at the mounted folders.
WORKDIR /opt/airflow

# 0. System tools the stamped-copy reader (盖章件, docs/stamped-copies.md) calls:
#    pdftoppm (poppler) rasterises PDF pages, Tesseract with Simplified Chinese reads
#    scans without a text layer. OCR takes one core for seconds per page.
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends poppler-utils tesseract-ocr tesseract-ocr-chi-sim \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
USER airflow

# 1. Runtime dependencies only (requirements.txt; test tools are in
#    requirements-dev.txt), with the lock applied as constraints so transitive
#    versions match the tested venv. They include the FAB provider, whose auth
#    manager docker-compose.yaml configures (the slim image has no providers).
#    Airflow itself is named explicitly so pip can never up- or downgrade it.
COPY --chown=airflow:0 requirements.txt requirements.lock /opt/airflow/
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/airflow/requirements.txt \
        -c /opt/airflow/requirements.lock

# 2. The project itself. Installed editable from /opt/airflow/include, the same
#    path docker-compose.yaml mounts ./include over, so the mounted code (kept
#    in step with the mounted dags/) is the code that runs. dags/, plugins/ and
#    expectations/ are copied too, so the image also runs without the mounts.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/
COPY --chown=airflow:0 include/ /opt/airflow/include/
RUN pip install --no-cache-dir --no-deps -e /opt/airflow
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 expectations/ /opt/airflow/expectations/

# 3. Byte-code compiled once here: every Airflow task runs in a fresh process, which would
#    otherwise compile the package from source again (about 0.1 s per task instance).
RUN python -m compileall -q /opt/airflow/include /opt/airflow/dags /opt/airflow/plugins
