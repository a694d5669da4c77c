"""Helpers shared by the test packages: built-in plugins, doc code blocks, and per-feature builders."""
