"""``automationctl``, the command line of the automation pipeline (see ``automationctl.main``)."""
