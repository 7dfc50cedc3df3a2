# One image for the web app, the workers and the migrations; the command picks the role.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY preprocessing ./preprocessing
COPY aging_model ./aging_model
COPY service ./service
COPY worker ./worker
COPY curation ./curation
COPY migrations ./migrations
COPY faceage_cli ./faceage_cli
RUN uv sync --locked --no-dev
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "service.app:create_app()"]
