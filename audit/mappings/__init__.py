"""Field mappings shipped with the tool, chosen by name: ``--mapping common-schema``."""
