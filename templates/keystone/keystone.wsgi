# Managed by prereqos (pyinfra): Keystone's API for mod_wsgi (keystone >= 27 ships no script).
from keystone.wsgi.api import application  # noqa: F401
