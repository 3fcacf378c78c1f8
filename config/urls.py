from django.contrib import admin
from django.urls import include, path

from api.oauth import TokenView
from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("api/", include("api.urls")),
]
