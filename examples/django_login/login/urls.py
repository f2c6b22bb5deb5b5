"""Routes: smsq's ready-made send / check / status under /smsq/, and the login flow's own."""

from django.urls import include, path

from login import views

urlpatterns = [
    path("smsq/", include("producers.integrations.django.urls")),
    path("login/verify", views.verify),
    path("me", views.me),
]
