from django.contrib import admin
from django.urls import include, path

from api.oauth import TokenView
from config import views
from health import views as health_views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", health_views.healthz, name="healthz"),
    path("metrics", health_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("api/", include("api.urls")),
]
