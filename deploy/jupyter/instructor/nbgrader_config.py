"""nbgrader in an instructor's JupyterLab on the course's hub (deploy/jupyterhub_config.py).

The Formgrader works on the course folder (SOFTPLUS_COURSE_DIR, a clone of the course
repository: its own nbgrader_config.py sets the folders, the grading limits and the grader).
`nbgrader release_assignment | collect | release_feedback` reach the students through the
exchange (SOFTPLUS_EXCHANGE). The hub passes both variables to every server.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "softplus"
c.CourseDirectory.root = os.environ.get("SOFTPLUS_COURSE_DIR", "/srv/softplus")
c.Exchange.root = os.environ.get("SOFTPLUS_EXCHANGE", "/srv/nbgrader/exchange")
