# urbanops gateway image: `urbanops gateway` (MQTT ingest, store upkeep, HTTP API and
# dashboard). The same image runs `urbanops db migrate` and `urbanops simulate`.
# Vision and LLM extras (torch, llama.cpp) are not included.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    URBANOPS_HTTP_HOST=0.0.0.0 \
    URBANOPS_HTTP_PORT=8000 \
    URBANOPS_DATA_DIR=/var/lib/urbanops \
    URBANOPS_CITY_DIR=/etc/urbanops/city
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
# The demo city pack; mount the city's own over /etc/urbanops/city (citypack/README.md).
COPY cities/shenzhen-demo /etc/urbanops/city
COPY deploy/healthcheck.py /usr/local/bin/urbanops-healthcheck
RUN chmod 0755 /usr/local/bin/urbanops-healthcheck \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/urbanops --create-home urbanops

USER urbanops
WORKDIR /var/lib/urbanops
VOLUME ["/var/lib/urbanops"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=6s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/bin/urbanops-healthcheck", "http://127.0.0.1:8000/healthz"]
ENTRYPOINT ["urbanops"]
CMD ["gateway"]
