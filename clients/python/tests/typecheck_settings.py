"""Django settings for mypy's Django plugin (django-stubs) only: the apps
whose models and admin the package's code refers to. No database is used."""

SECRET_KEY = "typecheck"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "outpost.django",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "unused"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
