"""Bundled recipe files: profiles/*.toml and suites/*.toml."""
