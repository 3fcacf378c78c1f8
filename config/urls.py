from django.contrib import admin
from django.urls import include, path

from api.oauth import TokenView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("api/", include("api.urls")),
]
