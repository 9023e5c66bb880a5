# One image for every Tierline service; the container's command picks the service:
#   docker run tierline serve intake
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TIERLINE_HTTP_HOST=0.0.0.0 TIERLINE_SERVICE_PORT=8000 TIERLINE_CONFIG=/etc/tierline/tierline.yaml \
    TIERLINE_LOG_FORMAT=json
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
RUN pip install .
COPY tierline.yaml /etc/tierline/tierline.yaml
RUN useradd --system --uid 10001 tierline
USER tierline
EXPOSE 8000 2525
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
ENTRYPOINT ["tierline"]
CMD ["serve", "intake"]
