"""Settings for bench/api_throughput.py: the app's, plus the bare view's URL."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
