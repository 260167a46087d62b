"""nbgrader in a student's JupyterLab on the course's hub (deploy/jupyterhub_config.py).

The Assignments panel and `nbgrader fetch_assignment | submit | fetch_feedback` in a terminal
use this course and this exchange. The hub passes SOFTPLUS_EXCHANGE to every server.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "softplus"
c.Exchange.root = os.environ.get("SOFTPLUS_EXCHANGE", "/srv/nbgrader/exchange")
