"""The built-in rule pack, shipped in the wheel as ``audit.builtin_rules``."""
