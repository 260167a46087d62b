"""JupyterHub for the Softplus course on one Linux machine (docs/jupyterhub.md).

    jupyterhub -f deploy/jupyterhub_config.py    # as root, in the folder SOFTPLUS_HUB_STATE names

Who may log in, and as what, comes from Linux: PAM checks the password of a real account
(PAMAuthenticator), members of the instructors' group are the hub's admins, and only members of
the instructors' or the students' group may log in at all. Each user's JupyterLab runs as that
Linux user (LocalProcessSpawner), opens on /lab in the user's home folder, and gets the Jupyter
settings of its group (JUPYTER_CONFIG_PATH):

    deploy/jupyter/student/     the Assignments panel (fetch, submit, fetch feedback) and Validate;
                                no Formgrader, Create Assignment or Course List
    deploy/jupyter/instructor/  all of nbgrader's tools, on the course folder

Everything that differs between machines is an environment variable (defaults in brackets);
tests/test_hub.py sets them to run a throw-away hub on free ports of 127.0.0.1:

    SOFTPLUS_HUB_IP [127.0.0.1]           where the hub listens: put a TLS proxy in front of it,
    SOFTPLUS_HUB_PORT [8000]              or set 0.0.0.0 only behind your own TLS termination
    SOFTPLUS_HUB_API_PORT [8081]          the hub's internal API (always 127.0.0.1)
    SOFTPLUS_PROXY_API_PORT [8001]        configurable-http-proxy's API (always 127.0.0.1)
    SOFTPLUS_PROXY [deploy/node_modules/.bin/configurable-http-proxy]   (`npm ci` in deploy/)
    SOFTPLUS_HUB_STATE [/srv/jupyterhub]  the hub's database, cookie secret and proxy pid file
    SOFTPLUS_USER_ENV [this Python's environment]   the environment of the users' servers
    SOFTPLUS_INSTRUCTORS [softplus-instructors]     Linux group of instructors (hub admins)
    SOFTPLUS_STUDENTS [softplus-students]           Linux group of students
    SOFTPLUS_EXCHANGE [/srv/nbgrader/exchange]      nbgrader's exchange root (c.Exchange.root)
    SOFTPLUS_COURSE_DIR [/srv/softplus]             the instructor's course folder
"""

import grp
import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- provided by traitlets when JupyterHub loads this file

DEPLOY = Path(__file__).resolve().parent
env = os.environ.get

# --- Network: the public side on one address, everything internal on 127.0.0.1 ----------------
c.JupyterHub.bind_url = (
    f"http://{env('SOFTPLUS_HUB_IP', '127.0.0.1')}:{env('SOFTPLUS_HUB_PORT', '8000')}"
)
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env('SOFTPLUS_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('SOFTPLUS_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [
    env("SOFTPLUS_PROXY", str(DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"))
]

# --- The hub's own state ---------------------------------------------------------------------
STATE = Path(env("SOFTPLUS_HUB_STATE", "/srv/jupyterhub"))
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
# Stopping the hub stops every user's server (and the proxy) with it.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- Who: Linux accounts and groups ------------------------------------------------------------
INSTRUCTORS = env("SOFTPLUS_INSTRUCTORS", "softplus-instructors")
STUDENTS = env("SOFTPLUS_STUDENTS", "softplus-students")
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {INSTRUCTORS, STUDENTS}
c.PAMAuthenticator.admin_groups = {INSTRUCTORS}

# --- Each user's JupyterLab, as that Linux user --------------------------------------------------
USER_ENV = Path(env("SOFTPLUS_USER_ENV", sys.prefix))
EXCHANGE = env("SOFTPLUS_EXCHANGE", "/srv/nbgrader/exchange")
COURSE_DIR = env("SOFTPLUS_COURSE_DIR", "/srv/softplus")
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(USER_ENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A first start imports JupyterLab and nbgrader from a cold disk cache: give it time.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
c.Spawner.environment = {
    # Terminals find the environment's `python`, `nbgrader` and `jupyter` first.
    "PATH": os.pathsep.join([str(USER_ENV / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
    "SOFTPLUS_EXCHANGE": EXCHANGE,
    "SOFTPLUS_COURSE_DIR": COURSE_DIR,
}


def in_group(username: str, group: str) -> bool:
    """Whether the Linux user ``username`` is a member of ``group`` (primary or supplementary)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return False
    return gid in os.getgrouplist(username, pwd.getpwnam(username).pw_gid)


def settings_for_group(spawner):
    """Instructors get nbgrader's instructor tools, everyone else the students' settings."""
    role = "instructor" if in_group(spawner.user.name, INSTRUCTORS) else "student"
    settings = str(DEPLOY / "jupyter" / role)
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": settings}
    spawner.log.info("Starting %s's server with the %s settings", spawner.user.name, role)


c.Spawner.pre_spawn_hook = settings_for_group
