"""The application's configuration: the ``Config`` document, loading it from YAML, TOML or JSON, and the
ordered table of checks each feature contributes for its own section."""
