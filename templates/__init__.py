"""cardgen's default Jinja card templates (installed as the ``cardgen.templates`` package)."""
