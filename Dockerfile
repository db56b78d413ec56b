# Production image: gunicorn serving Django; the same image runs the Celery workers
# (`celery -A virtool_site worker` for the default queue, `... worker -Q builds` on compute nodes).
# With AWS_STORAGE_BUCKET_NAME set, persistent files live in the bucket and /data is scratch
# only; without it they live in /data: mount a volume there (`-v virtool-data:/data`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    PORT=8000

RUN apt-get update \
 && apt-get install -y --no-install-recommends bowtie2 ncbi-blast+ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --system --create-home --uid 1000 virtool \
 && mkdir -p /data \
 && chown -R virtool:virtool /data /app \
 && SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0

USER virtool
EXPOSE 8000

CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn virtool_site.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --access-logfile -"]
