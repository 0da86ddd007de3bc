"""``automationctl``, the command line of the automation pipeline (see ``shared.cli.main``)."""
