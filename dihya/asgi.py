import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
django_application = get_asgi_application()

from dihya.api.bodylimit import BodyLimit  # noqa: E402 - needs the settings configured above
from dihya.api.lane import ApiHandler, Lanes  # noqa: E402 - needs the settings configured above

application = BodyLimit(Lanes(ApiHandler(), django_application))
